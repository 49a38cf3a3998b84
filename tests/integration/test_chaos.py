"""Chaos tests: nothing lost, nothing twice, on real Redis, Dovecot, SMTP (aiosmtpd) and vLLM.

Each test runs its own appliance (server + worker as subprocesses, private Redis, DuckDB and
blob store on disk) on a batch of supplier mails it writes itself (some without a price, so
clarification e-mails go out through the real SMTP server), breaks something while the batch
flows, and checks the end state: every mail terminal (offer stored, no offer, or failed with
its error), one mail row per content, one offer per mail, each outbox e-mail received by the
SMTP server at most once, no supplier asked the same question twice. Each prints one JSON line
of figures (and appends it to the file named by ``APPLIANCE_CHAOS_REPORT``, if set).

Recovery is made fast for the tests through the environment: a killed consumer's messages
come back after 3 s (Redis heartbeat), stuck mails are re-queued after 20 s, accounts are
polled every 2 s.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import email
import email.policy
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_lib

from tests.integration.dovecot import PASSWORD_ENV, Dovecot
from tests.integration.services import Appliance, RedisServer, account_env, wait_for
from tests.integration.smtp import Received, SmtpServer
from tests.integration.tcpproxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.llm, pytest.mark.slow]

BUYER = "purchasing@buyer.example"
TERMINAL = {"extracted", "no_offer", "failed"}
PRODUCTS = [
    ("Corrugated box 40x30x20 cm", "pcs"), ("Stretch film 500 mm", "rolls"),
    ("Euro pallet 1200x800 mm", "pcs"), ("Wood screws 4x40 mm", "boxes"),
    ("Packing tape 48 mm", "rolls"), ("Steel shelf 180x90x40 cm", "pcs"),
    ("Cable ties 300 mm", "packs"), ("Bubble wrap 1 m", "rolls"),
]  # fmt: skip


# --- the batch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    raw: bytes
    message_id: str
    sender: str
    priced: bool


def batch_size(default: int) -> int:
    """Mails per chaos batch: ``APPLIANCE_CHAOS_MAILS`` overrides each test's default (kept small
    so the whole suite stays within CI's budget on 2 cores; a larger run is a report)."""
    return int(os.environ.get("APPLIANCE_CHAOS_MAILS", default))


def make_batch(
    tag: str,
    n: int,
    *,
    pad: int = 0,
    seed: int = 6,
    body: str | None = None,
    prose: bool = False,
) -> list[Mail]:
    """``n`` offers from ``n`` suppliers (one address each); every third has no price
    (``body``: this text for every mail instead; ``prose``: the offer in a sentence, which
    only the model reads, instead of ``Key: value`` lines the readers take without it)."""
    rnd = random.Random(f"{tag}-{seed}")
    out = []
    for i in range(n):
        product, unit = PRODUCTS[i % len(PRODUCTS)]
        qty, days = rnd.choice([50, 100, 200, 500]), rnd.choice([5, 7, 10, 14])
        sender = f"sales{i}@{tag}-s{i}.example"
        priced = i % 3 != 2
        lines = [f"Product: {product}", f"Quantity: {qty} {unit}"]
        if priced:
            lines.append(f"Unit price: {rnd.randint(2, 90)}.{rnd.randint(10, 99)} EUR")
        lines.append(f"Lead time: {days} days")
        if prose:
            price = lines[2].removeprefix("Unit price: ") if priced else ""
            lines = [f"we can supply {product}, {qty} {unit}"
                     + (f" at {price} per piece" if price else "")
                     + f", with delivery in {days} days."]  # fmt: skip
        filler = "".join(f"\nTerms and notes line {k}: delivery ex works." for k in range(pad))
        msg = EmailMessage()
        msg["From"] = f"Supplier {i} <{sender}>"
        msg["To"] = BUYER
        msg["Subject"] = f"Offer {tag} {i}: {product}"
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(idstring=f"{tag}.{i}", domain=f"{tag}-s{i}.example")
        msg.set_content(body or "Hello,\n\nour offer:\n\n" + "\n".join(lines) +
                        f"\n\nBest regards,\nSupplier {i}\n{filler}")  # fmt: skip
        raw = msg.as_bytes(policy=email.policy.SMTP)
        out.append(Mail(raw, str(msg["Message-ID"]), sender, priced))
    return out


# --- figures -----------------------------------------------------------------------------


@dataclass
class Figures:
    """The one-line summary of a chaos test."""

    test: str
    mails_in: int
    mail_rows: int = 0
    terminal: int = 0
    states: dict[str, int] = field(default_factory=dict)
    duplicate_offers: int = 0  # mails with more than one offer row
    emails_expected: int = 0  # outbox rows the appliance says it sent
    emails_received: int = 0  # at the SMTP server, for this test's suppliers
    duplicate_emails: int = 0  # same Message-ID or same question to one supplier, twice
    recovery_s: float | None = None
    total_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> None:
        line = json.dumps({"chaos": self.__dict__}, sort_keys=False)
        print(line)
        path = os.environ.get("APPLIANCE_CHAOS_REPORT")
        if path:
            with open(path, "a") as fh:
                fh.write(line + "\n")


# --- one appliance per test --------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with SmtpServer(workdir=tmp_path_factory.mktemp("smtp")) as server:
        yield server


class Chaos:
    """One appliance (own Redis, DuckDB, blob store, IMAP folder) and what it sent."""

    def __init__(
        self, name: str, work: Path, dovecot: Dovecot, smtp: SmtpServer, llm_url: str,
        *, env: dict[str, str] | None = None, account: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.name = name
        self.dovecot = dovecot
        self.smtp = smtp
        self.folder = f"chaos-{name}"
        c = dovecot.client()
        try:
            if not c.folder_exists(self.folder):
                c.create_folder(self.folder)
        finally:
            c.logout()
        work.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(work)
        acc = dovecot.account("imap", name="suppliers", folders=[self.folder], idle=False,
                              **(account or {}))  # fmt: skip
        outbox = {
            "mode": "smtp",
            "from_addr": BUYER,
            "min_backoff_ms": 500,
            "max_backoff_ms": 5000,
            "smtp": smtp.settings(timeout_s=10).model_dump(mode="json", exclude_none=True),
        }
        self.app = Appliance(work, {
            "APPLIANCE_REDIS__URL": self.redis.url,
            "APPLIANCE_REDIS__HEARTBEAT_TIMEOUT_MS": "3000",
            "APPLIANCE_REDIS__MAINTENANCE_CHANCE": "1000000",
            "APPLIANCE_LLM__BASE_URL": llm_url,
            "APPLIANCE_OUTBOX": json.dumps(outbox),
            "APPLIANCE_SERVER__STUCK_AFTER_S": "20",
            "APPLIANCE_SERVER__POLL_INTERVAL_S": "2",
            **account_env(acc, PASSWORD_ENV, dovecot.password),
            **(env or {}),
        })  # fmt: skip
        self.mails: list[Mail] = []
        self.started = time.monotonic()

    def close(self) -> None:
        for name in list(self.app.procs):  # a worker mid-extraction takes long to stop
            self.app.stop(name, kill=True)
        if self.redis.proc.poll() is None:
            self.redis.stop()
        for name in ("server", "worker"):
            path = self.app.workdir / f"{name}.log"
            if path.exists():
                print(f"--- {self.name}: {name} log (tail) ---\n{self.app.log(name)[-2500:]}")

    # -- input and observation ---------------------------------------------------------
    def deliver(self, mails: list[Mail]) -> None:
        """Put mails into the test's IMAP folder (the appliance polls it)."""
        for m in mails:
            self.dovecot.append(m.raw, folder=self.folder)
        self.mails.extend(mails)

    def mail_rows(self) -> list[dict[str, Any]]:
        return list(self.app.get("/api/v1/mails", limit=500)["items"])

    def offers(self) -> list[dict[str, Any]]:
        return list(self.app.get("/api/v1/offers", limit=500)["items"])

    def outbox(self) -> list[dict[str, Any]]:
        return list(self.app.get("/api/v1/outbox", limit=500)["items"])

    def received(self) -> list[Received]:
        """E-mails the SMTP server accepted for this test's suppliers."""
        return [m for m in self.smtp.messages
                if any(f"@{self.name}-s" in r for r in m.rcpt_tos)]  # fmt: skip

    def settled(self, n: int | None = None) -> bool:
        """Every mail recorded and terminal, and no e-mail still waiting to go out."""
        rows = self.mail_rows()
        n = len(self.mails) if n is None else n
        if len(rows) < n or any(r["state"] not in TERMINAL for r in rows):
            return False
        return not any(r["state"] == "queued" for r in self.outbox())

    def wait_settled(self, timeout: float) -> float:
        """Wait until ``settled``; returns the seconds it took."""
        t0 = time.monotonic()
        wait_for(f"{self.name}: every mail terminal", self.settled, timeout, interval=2)
        return round(time.monotonic() - t0, 1)

    # -- the checks every chaos test makes ---------------------------------------------
    def check(
        self, recovery_s: float | None, *, emails_of_lost_rows: bool = False, **extra: Any
    ) -> Figures:
        """Figures of the end state, reported, then asserted: nothing lost, nothing twice.

        ``emails_of_lost_rows``: e-mails were sent from outbox rows of a database since lost.
        """
        rows = self.mail_rows()
        offers = self.offers()
        outbox = self.outbox()
        got = self.received()
        fig = Figures(test=self.name, mails_in=len(self.mails), mail_rows=len(rows),
                      recovery_s=recovery_s, extra=extra,
                      total_s=round(time.monotonic() - self.started, 1))  # fmt: skip
        fig.states = dict(collections.Counter(r["state"] for r in rows))
        fig.terminal = sum(r["state"] in TERMINAL for r in rows)
        per_mail = collections.Counter(o["source_mail_ids"][0] for o in offers)
        fig.duplicate_offers = sum(1 for c in per_mail.values() if c > 1)
        fig.emails_expected = sum(o["state"] == "sent" for o in outbox)
        fig.emails_received = len(got)
        by_mid = collections.Counter(_header(m, "Message-ID") for m in got)
        kinds = {o["message_id"]: (o["to_addr"], o["kind"], o["round"]) for o in outbox}
        by_question = collections.Counter(kinds.get(_header(m, "Message-ID")) for m in got)
        fig.duplicate_emails = sum(c - 1 for c in by_mid.values()) + sum(
            c - 1 for k, c in by_question.items() if k is not None
        )
        fig.extra["uncertain"] = sum(o["state"] == "uncertain" for o in outbox)
        fig.report()
        # Nothing lost: every mail we put in is one row, and every row ended somewhere.
        assert {r["message_id"] for r in rows} == {m.message_id for m in self.mails}, fig
        assert fig.mail_rows == fig.mails_in and fig.terminal == fig.mails_in, fig
        for r in rows:
            if r["state"] == "failed":
                assert r["error"] and r["error"]["code"], r
        # Nothing twice: one offer per mail, each e-mail once, one question per round.
        assert fig.duplicate_offers == 0, fig
        assert fig.duplicate_emails == 0, [(m.rcpt_tos, _header(m, "Message-ID")) for m in got]
        if not emails_of_lost_rows:
            assert all(_header(m, "Message-ID") in kinds for m in got), "an e-mail without a row"
        sent_ids = {o["message_id"] for o in outbox if o["state"] == "sent"}
        assert sent_ids <= set(by_mid), "an outbox row says sent, the SMTP server has nothing"
        assert not any(o["state"] == "queued" for o in outbox), outbox
        return fig


def _header(m: Received, name: str) -> str:
    msg = email.message_from_bytes(m.data, policy=email.policy.default)
    return str(msg[name] or "")


MakeChaos = Callable[..., Chaos]


@pytest.fixture
def chaos(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpServer, vllm_server: str
) -> Iterator[MakeChaos]:
    """Makes ``Chaos`` appliances (``chaos(name, llm_url=..., env=..., account=...)``), all
    stopped at the end of the test."""
    made: list[Chaos] = []

    def make(name: str, **kw: Any) -> Chaos:
        kw.setdefault("llm_url", vllm_server)
        made.append(Chaos(name, tmp_path / name, dovecot, smtp, **kw))
        return made[-1]

    yield make
    for c in made:
        c.close()


# --- 1. workers killed repeatedly ----------------------------------------------------------


@contextlib.contextmanager
def observed(c: Chaos, llm_url: str) -> Iterator[None]:
    """With ``APPLIANCE_CHAOS_PROMETHEUS=<file>``: a real Prometheus (configs/prometheus.yml,
    ports rewritten) scrapes this chaos run, and at its end every query of the Grafana
    dashboard is answered by it and written to <file> (for the operations report)."""
    out = os.environ.get("APPLIANCE_CHAOS_PROMETHEUS")
    if not out:
        yield
        return
    import subprocess
    from urllib.parse import urlsplit

    import yaml

    from tests.bench.grafana_queries import answer_all, report
    from tests.integration.services import free_port
    from tests.integration.test_prometheus import _prometheus_binary, scrape_config

    vllm = urlsplit(llm_url)
    conf = scrape_config({
        "appliance-server": [f"127.0.0.1:{c.app.port}"],
        "appliance-worker": [f"127.0.0.1:{c.app.env['APPLIANCE_WORKER__METRICS_PORT']}"],
        "vllm": [f"{vllm.hostname}:{vllm.port}"],
    }, interval="2s")  # fmt: skip
    work = c.app.workdir
    (work / "prometheus.yml").write_text(yaml.safe_dump(conf))
    url = f"http://127.0.0.1:{free_port()}"
    with open(work / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [_prometheus_binary(), f"--config.file={work / 'prometheus.yml'}",
             f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address={url[7:]}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for("Prometheus ready", lambda: httpx.get(f"{url}/-/ready").is_success, 60)
        yield
        time.sleep(6)  # a few more scrapes of the settled state
        Path(out).write_text(report(answer_all(url)))
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.timeout(1500)
def test_workers_killed_repeatedly(chaos: MakeChaos, vllm_server: str) -> None:
    c = chaos("kill")
    batch = make_batch("kill", batch_size(12))
    c.app.start("server")
    c.app.start("worker")
    with observed(c, vllm_server):
        _kill_workers_while_mails_flow(c, batch)


def _kill_workers_while_mails_flow(c: Chaos, batch: list[Mail]) -> None:
    third = max(len(batch) // 3, 1)
    c.deliver(batch[:third])
    rnd = random.Random(1)
    kills = 0
    for wave in (batch[third : 2 * third], batch[2 * third :], [], [], []):
        time.sleep(rnd.uniform(5, 10))
        c.app.stop("worker", kill=True)  # SIGKILL: no goodbye, messages in flight
        kills += 1
        c.app.start("worker")
        c.deliver(wave)
    recovery = c.wait_settled(1200)
    c.check(recovery, kills=kills)


# --- 2. Redis restarted empty mid-batch ----------------------------------------------------


@pytest.mark.timeout(1200)
def test_redis_restarted_mid_batch(chaos: MakeChaos) -> None:
    c = chaos("redis")
    batch = make_batch("redis", batch_size(8))
    c.app.start("server")
    c.app.start("worker")
    c.deliver(batch)
    # Some mails are through, others are queued (in Redis) or being extracted.
    wait_for("a first offer", lambda: any(r["state"] != "received" for r in c.mail_rows()), 600)
    before = collections.Counter(r["state"] for r in c.mail_rows())
    c.redis.stop()  # nothing on disk: every queued message, cursor and marker is gone
    time.sleep(5)
    c.redis.start()
    recovery = c.wait_settled(900)
    c.check(recovery, states_at_restart=dict(before))


# --- 3. vLLM unreachable for a while --------------------------------------------------------


@pytest.mark.timeout(1200)
def test_llm_outage_is_waited_out(chaos: MakeChaos, vllm_server: str) -> None:
    # A TCP proxy in front of the shared vLLM server, closed and reopened: the client sees a
    # real outage (connection refused / reset), the engine keeps its warm state.
    root = httpx.URL(vllm_server)
    with TcpProxy(root.host, root.port or 80) as proxy:
        c = chaos("llm", llm_url=f"http://127.0.0.1:{proxy.port}/v1", env={
            "APPLIANCE_WORKER__MAX_RETRIES": "8",
            "APPLIANCE_WORKER__MIN_BACKOFF_MS": "2000",
            "APPLIANCE_WORKER__MAX_BACKOFF_MS": "15000",
        })  # fmt: skip
        batch = make_batch("llm", batch_size(6), prose=True)  # mails that need the model
        c.app.start("server")
        c.app.start("worker")
        c.deliver(batch)
        wait_for("a first offer", lambda: any(r["state"] != "received" for r in c.mail_rows()),
                 600)  # fmt: skip
        proxy.close()
        outage_s = 40.0
        time.sleep(outage_s)
        errors_seen = [r["error"]["code"] for r in c.mail_rows() if r["error"]]
        proxy.open()
        recovery = c.wait_settled(900)
        fig = c.check(recovery, outage_s=outage_s, transient_errors_during_outage=errors_seen,
                      proxy="tcp proxy in front of the shared vLLM")  # fmt: skip
    assert fig.states.get("failed", 0) == 0, fig
    assert errors_seen, "the outage was not noticed by any extraction"


# --- 4. the server killed mid-write; then a database that cannot be opened ------------------


@pytest.mark.timeout(1800)
def test_server_killed_then_database_lost(chaos: MakeChaos) -> None:
    c = chaos("db")
    batch = make_batch("db", batch_size(6))
    c.app.start("server")
    c.app.start("worker")
    c.deliver(batch)
    wait_for("a first offer", lambda: any(r["state"] != "received" for r in c.mail_rows()), 600)
    c.app.stop("server", kill=True)  # SIGKILL mid-batch: DuckDB replays its WAL at start
    t0 = time.monotonic()
    c.app.start("server")
    api_back_s = round(time.monotonic() - t0, 1)
    recovery = c.wait_settled(900)
    fig1 = c.check(recovery, phase="kill -9 mid-write", api_back_s=api_back_s)
    offers_before = {o["source_mail_ids"][0] for o in c.offers()}
    mail_ids = {r["id"]: r["message_id"] for r in c.mail_rows()}
    with_offer = {mail_ids[i] for i in offers_before}
    sent_before = len(c.received())

    # The unrecoverable case: the server dies, its files are damaged.
    c.app.stop("server", kill=True)
    data = Path(c.app.env["APPLIANCE_PATHS__DATA_DIR"])
    db_file = data / "appliance.duckdb"
    with open(db_file, "r+b") as fh:  # garble the headers: "not a valid DuckDB database"
        fh.seek(0)
        fh.write(os.urandom(3 * 4096))
    t0 = time.monotonic()
    c.app.start("server")
    health = httpx.get(f"{c.app.url}/healthz", timeout=10).json()
    db = health["checks"]["db"]
    assert db["status"] == "recovered", db
    assert db["recovery"]["lost"] == "database"
    for p in db["recovery"]["set_aside"]:
        assert Path(p).exists() and ".corrupt-" in p  # set aside, never deleted
    assert "DATABASE RECOVERY" in c.app.log("server")
    # Users and API tokens were in the lost database too: the operator makes them again
    # (`appliance tokens create`, with the server stopped), as the test does now.
    c.app.stop("server")
    c.app.token = None
    c.app.start("server")
    recovery2 = c.wait_settled(900)
    rows = c.mail_rows()
    assert {r["message_id"] for r in rows} == {m.message_id for m in batch}
    assert all(r["account"] == "rederived" for r in rows)
    new_ids = {r["id"]: r["message_id"] for r in rows}
    again = {new_ids[o["source_mail_ids"][0]] for o in c.offers()}
    # No e-mail goes out again for a re-derived mail: each is suppressed, the offer in review.
    time.sleep(3)
    assert len(c.received()) == sent_before
    suppressed = [o for o in c.outbox() if o["state"] == "suppressed"]
    assert all("re-derived" in o["reason"] for o in suppressed)
    fig2 = c.check(recovery2, emails_of_lost_rows=True, phase="database set aside and re-derived",
                   set_aside=len(db["recovery"]["set_aside"]), offers_before=len(with_offer),
                   offers_after=len(again), rederived=db["recovery"]["rederived"],
                   kill_phase_recovery_s=fig1.recovery_s)  # fmt: skip
    # Every mail that was an offer is an offer again (the raw mail is the source of truth).
    assert with_offer <= again, (with_offer - again, fig2)


# --- 5. IMAP connection dropped mid-fetch, UIDVALIDITY changed -------------------------------


@pytest.mark.timeout(1200)
def test_imap_drops_and_uidvalidity_changes(chaos: MakeChaos, dovecot: Dovecot) -> None:
    with TcpProxy(dovecot.host, dovecot.imap_port) as proxy:
        c = chaos("imap", account={"host": "127.0.0.1", "port": proxy.port})
        batch = make_batch(
            "imap", batch_size(8), pad=60
        )  # ~3.5 KB each: a FETCH is cut in the middle
        proxy.cut(after_bytes=9000, times=2)
        first = batch[: max(len(batch) - 2, 1)]
        c.deliver(first)
        c.app.start("server")
        c.app.start("worker")
        wait_for("the cut fetches", lambda: proxy.cuts_done >= 2, 120)
        c.wait_settled(900)
        old_validity = dovecot.uidvalidity(c.folder)
        c.app.stop("worker")  # no session on the folder while Dovecot rebuilds it
        new_validity = dovecot.reset_uidvalidity(c.folder)
        assert new_validity != old_validity
        proxy.cut(after_bytes=9000, times=1)
        c.deliver(batch[len(first) :])
        t0 = time.monotonic()
        c.app.start("worker")

        def rekeyed() -> bool:
            keys = [k for r in c.mail_rows() for k in c.app.get(f"/api/v1/mails/{r['id']}")["keys"]]
            return sum(f"/{new_validity}/" in k for k in keys) >= len(batch)

        wait_for("every mail seen under the new UIDVALIDITY", rekeyed, 300)
        recovery = c.wait_settled(900)
        recovery = round(max(recovery, time.monotonic() - t0), 1)
        fig = c.check(recovery, cuts=proxy.cuts_done, connections=proxy.connections,
                      old_uidvalidity=old_validity, new_uidvalidity=new_validity)  # fmt: skip
    assert fig.extra["cuts"] >= 3
    # Seen twice (two UIDVALIDITYs), recorded once, extracted once.
    for r in c.mail_rows():
        events = c.app.get(f"/api/v1/mails/{r['id']}")["events"]
        assert sum(e["outcome"] in ("extracted", "no_offer") for e in events) <= 1, events


# --- 6. the same Dramatiq message delivered twice --------------------------------------------


def _queued(client: redis_lib.Redis, ns: str, queue: str) -> list[dict[str, Any]]:
    """The messages waiting in a Dramatiq queue (decoded), oldest first."""
    ids = [i.decode() for i in client.lrange(f"{ns}:{queue}", 0, -1)]
    datas = client.hmget(f"{ns}:{queue}.msgs", ids) if ids else []
    return [json.loads(d) for d in datas if d]


def _in_flight(client: redis_lib.Redis, ns: str, queue: str) -> int:
    """Messages of ``queue`` taken by a consumer and not acknowledged yet."""
    return sum(int(client.scard(k)) for k in client.keys(f"{ns}:__acks__.*.{queue}"))


@pytest.mark.timeout(900)
def test_messages_delivered_twice_are_harmless(chaos: MakeChaos) -> None:
    import dramatiq

    from appliance.jobs.actors import connect
    from appliance.mail.blobstore import BlobStore
    from appliance.mail.intake import ingest
    from appliance.settings import load_settings

    c = chaos("twice")
    # The offer of test_dialogue's English thread: the bundled model reads it well enough
    # that the offer lacks only its price (so a question goes out).
    body = (
        "Hello,\n\nplease find our offer below.\n\nProduct: Corrugated box 40x30x20 cm\n"
        "Quantity: 500 pcs\nLead time: 10 days\n\nBest regards,\nAnna Berg\nBoxWorks Ltd\n"
    )
    m = make_batch("twice", 1, body=body)[0]
    c.mails.append(m)
    settings = load_settings(env={k: v for k, v in c.app.env.items() if k.startswith("APPLIANCE")})
    broker, rt = connect(settings)
    client = redis_lib.Redis.from_url(c.redis.url)
    ns = broker.namespace

    def twice(queue: str) -> int:
        """Enqueue every waiting message of ``queue`` again twice: the same message (same
        id, as a requeue does) and a copy under a new id (as a redelivery does)."""
        waiting = _queued(client, ns, queue)
        for data in waiting:
            msg = dramatiq.Message(**{k: data[k] for k in (
                "queue_name", "actor_name", "args", "kwargs", "options", "message_id",
                "message_timestamp")})  # fmt: skip
            broker.enqueue(msg)
            broker.enqueue(msg.copy(message_id=str(uuid.uuid4())))
        return len(waiting)

    # record_mail x3, by hand (the worker's poll would send one).
    rec = ingest(m.raw, BlobStore(settings.paths.blob_dir), account="import", folder="import",
                 uidvalidity=0, uid=m.message_id)  # fmt: skip
    rt.send("record_mail", rec.model_dump(mode="json"))
    counts = {"record_mail": twice("store")}
    c.app.start("server")
    wait_for("the mail recorded", lambda: c.mail_rows(), 60)
    wait_for("the store queue drained", lambda: not _queued(client, ns, "store"), 60)
    extracts = _queued(client, ns, "extract")
    # Recorded once. (The scheduler's first tick may queue the extraction once more: it
    # re-queues waiting mails at once when Redis holds none of its state, as here.)
    assert 1 <= len(extracts) <= 2 and {tuple(e["args"]) for e in extracts} == {(1, rec.sha256)}
    counts["extract"] = twice("extract")
    c.app.stop("server")  # outcomes wait in the store queue
    c.app.start("worker")
    wait_for("every extraction done", lambda: not _queued(client, ns, "extract") and
             not _in_flight(client, ns, "extract") and len(_queued(client, ns, "store")) >= 2,
             600)  # fmt: skip
    c.app.stop("worker")  # deliveries wait in the outbox queue
    counts["save_extraction"] = twice("store")
    c.app.start("server")
    wait_for("the mail terminal", lambda: c.mail_rows()[0]["state"] in TERMINAL, 60)
    wait_for("the store queue drained", lambda: not _queued(client, ns, "store"), 60)
    counts["deliver"] = twice("outbox")
    c.app.start("worker")
    recovery = c.wait_settled(300)
    time.sleep(5)  # anything sent late would still arrive now
    outbox = c.outbox()
    fig = c.check(recovery, enqueued_again=counts, outbox=[(o["kind"], o["state"]) for o in outbox])
    events = c.app.get(f"/api/v1/mails/{c.mail_rows()[0]['id']}")["events"]
    outcomes = collections.Counter(e["outcome"] for e in events)
    assert outcomes["recorded"] == 1 and outcomes["duplicate_ignored"] >= 2, outcomes
    assert len(c.offers()) <= 1
    # At most one e-mail (a question, or none when the model's reading sent the offer to
    # review), however often its delivery was enqueued.
    assert fig.emails_received == len([o for o in outbox if o["state"] == "sent"]) <= 1
    # A duplicated delivery job by hand, after the fact, sends nothing either.
    for o in outbox:
        if o["state"] == "sent":
            full = c.app.get(f"/api/v1/outbox/{o['id']}")
            args = (o["id"], o["idem_key"], o["to_addr"], o["message_id"],
                    base64.b64encode(full["message"].encode()).decode())  # fmt: skip
            rt.send("deliver", *args)
            rt.send("deliver", *args)
    time.sleep(8)
    assert len(c.received()) == fig.emails_received
    broker.close()


# --- without the LLM: a Redis that loses its data does not make an e-mail go out twice --------


@pytest.mark.timeout(120)
def test_redis_data_loss_sends_no_email_twice(tmp_path: Path, smtp: SmtpServer) -> None:
    from appliance.settings import load_settings
    from appliance.workflow.delivery import deliver_once

    server = RedisServer(tmp_path)
    try:
        outbox = {
            "mode": "smtp",
            "from_addr": BUYER,
            "smtp": smtp.settings(timeout_s=10).model_dump(mode="json", exclude_none=True),
        }
        settings = load_settings(env={
            "APPLIANCE_PATHS__DATA_DIR": str(tmp_path / "data"),
            "APPLIANCE_REDIS__URL": server.url, "APPLIANCE_OUTBOX": json.dumps(outbox),
        })  # fmt: skip
        client = redis_lib.Redis.from_url(server.url)
        to = "anna@loss-s0.example"
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = BUYER, to, "Re: offer [Q-LOSS01]"
        msg["Message-ID"] = mid = make_msgid(domain="buyer.example")
        msg.set_content("Please send the unit price.\n")
        raw = msg.as_bytes(policy=email.policy.SMTP)
        before = len([m for m in smtp.messages if to in m.rcpt_tos])
        first = deliver_once(settings, client, "offer:1:clarification:1", to, mid, raw, False)
        assert first[0] == "sent", first
        client.flushall()  # Redis restarted without persistence: the markers are gone
        again = deliver_once(settings, client, "offer:1:clarification:1", to, mid, raw, False)
        assert again[0] == "sent" and "already delivered" in (again[1] or ""), again
        # The same idempotency key with another Message-ID (a database recovered from an
        # older state reused the offer id) is another e-mail: it goes out.
        msg.replace_header("Message-ID", mid2 := make_msgid(domain="buyer.example"))
        other = deliver_once(settings, client, "offer:1:clarification:1", to, mid2,
                             msg.as_bytes(policy=email.policy.SMTP), False)  # fmt: skip
        assert other[0] == "sent" and "already" not in (other[1] or ""), other
        got = [m for m in smtp.messages if to in m.rcpt_tos]
        assert len(got) == before + 2
        assert [_header(m, "Message-ID") for m in got[before:]] == [mid, mid2]
    finally:
        server.stop()
