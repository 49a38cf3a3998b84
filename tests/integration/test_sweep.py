"""The scheduler's stuck-mail sweep on real Redis: no duplicate work under a backlog, one queued
poll per account, poison mails failed after ``worker.poison_attempts`` unfinished attempts.

The first tests drive the plain functions and the actors in-process against a private
``redis-server`` and a DuckDB file (no LLM). The last one runs the real server and worker and
SIGKILLs the worker each time it starts on the poison mail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import redis

from appliance.jobs import actors, tracking
from appliance.jobs.actors import Runtime, connect, queue_poll
from appliance.jobs.broker import pending_extractions
from appliance.messages import MailMeta, RecordMail
from appliance.server import Scheduler
from appliance.settings import Settings
from appliance.store import queries, repo
from appliance.store.db import Database
from tests.integration.services import Appliance, RedisServer, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def setup(redis_url: str, tmp_path: Path) -> Iterator[tuple[Any, Runtime]]:
    """A broker and a server-side runtime (DB owner) in a namespace of their own."""
    ns = f"t{uuid.uuid4().hex[:8]}"
    settings = Settings(
        redis={"url": redis_url, "namespace": ns},
        paths={"data_dir": str(tmp_path / "data")},
        server={"stuck_after_s": 0},
    )
    db = Database.open(tmp_path / "t.duckdb")
    broker, rt = connect(settings, db=db)
    yield broker, rt
    broker.close()
    db.close()


def _record(db: Database, n: int) -> tuple[int, str]:
    sha = f"{n:064x}"
    msg = RecordMail(key=f"acc/INBOX/1/{n}", account="acc", folder="INBOX", uidvalidity=1,
                     uid=str(n), sha256=sha, size=10, meta=MailMeta(subject=f"m{n}"))  # fmt: skip
    return repo.record_mail(db, msg).mail_id, sha


def _messages(broker: Any, queue: str) -> list[dict[str, Any]]:
    return [json.loads(v) for v in broker.client.hvals(f"{broker.namespace}:{queue}.msgs")]


def _extract_messages(broker: Any) -> list[int]:
    return sorted(m["args"][0] for m in _messages(broker, "extract"))


def test_one_queued_poll_per_account(setup: tuple[Any, Runtime]) -> None:
    broker, rt = setup
    assert queue_poll(rt, "acc")
    assert not queue_poll(rt, "acc")  # the first still waits: no second one behind it
    assert queue_poll(rt, "other")
    assert len(_messages(broker, "mail")) == 2
    assert rt.redis is not None
    ttl = rt.redis.pttl(tracking.poll_key(rt.settings.redis.namespace, "acc"))
    assert 0 < int(ttl) <= rt.settings.server.poll_queued_ttl_s * 1000  # type: ignore[arg-type]
    tracking.poll_started(rt.redis, rt.settings.redis.namespace, "acc")
    assert queue_poll(rt, "acc")  # the queued one runs now: the next may wait behind it
    assert len(_messages(broker, "mail")) == 3


def test_pending_extractions_reads_ready_delayed_and_unsaved_outcomes(
    setup: tuple[Any, Runtime],
) -> None:
    broker, rt = setup
    rt.send("extract", 1, "a" * 64)
    rt.actors["extract"].send_with_options(args=(2, "b" * 64), delay=600_000)
    rt.send("save_extraction", {"mail_id": 3, "sha256": "c" * 64})
    dead = {"actor_name": "extract", "args": [4, "d" * 64]}  # dead-lettered: lost work
    broker.client.hset(f"{broker.namespace}:extract.XQ.msgs", "x", json.dumps(dead))
    broker.client.hset(f"{broker.namespace}:extract.msgs", "junk", b"not json")
    assert pending_extractions(broker.client, broker.namespace) == {1, 2, 3}


def test_sweep_under_backlog_queues_nothing_twice(setup: tuple[Any, Runtime]) -> None:
    """A backlog older than stuck_after_s is left alone; only a lost message is re-queued,
    once; a lost mail with poison_attempts unfinished attempts is failed instead."""
    broker, rt = setup
    assert rt.db is not None and rt.redis is not None
    mails = [_record(rt.db, n) for n in range(1, 7)]
    for mail_id, sha in mails[:5]:
        rt.send("extract", mail_id, sha)  # the backlog: queued, not yet picked up
    sched = Scheduler(rt, broker)
    for _ in range(3):  # stuck_after_s is 0: every mail is "stuck" at each tick
        sched.tick()
    lost_id = mails[5][0]  # never queued (its message was lost before it reached Redis)
    assert _extract_messages(broker) == sorted(m for m, _ in mails)
    # One queued message disappears (e.g. dead-lettered): it comes back once.
    gone = next(k for k, v in broker.client.hgetall(f"{broker.namespace}:extract.msgs").items()
                if json.loads(v)["args"][0] == mails[0][0])  # fmt: skip
    broker.client.hdel(f"{broker.namespace}:extract.msgs", gone)
    broker.client.lrem(f"{broker.namespace}:extract", 0, gone)
    sched.tick()
    sched.tick()
    assert _extract_messages(broker) == sorted(m for m, _ in mails)
    events = rt.db.query("SELECT mail_id FROM events WHERE outcome = 'requeued' ORDER BY mail_id")
    assert [e["mail_id"] for e in events] == [mails[0][0], lost_id]
    # A lost mail whose attempts crashed the worker poison_attempts times is failed, not queued.
    ns = rt.settings.redis.namespace
    poison_id, _ = _record(rt.db, 7)
    for _ in range(rt.settings.worker.poison_attempts):
        tracking.start_attempt(rt.redis, ns, poison_id)
    sched.tick()
    mail = queries.get_mail(rt.db, poison_id)
    assert mail["state"] == repo.FAILED
    assert mail["error"]["code"] == tracking.POISON_CODE, mail
    assert "never finished" in mail["error"]["message"]
    assert poison_id not in _extract_messages(broker)


def test_attempt_counter_counts_only_unfinished_attempts(setup: tuple[Any, Runtime]) -> None:
    _, rt = setup
    assert rt.redis is not None
    ns = rt.settings.redis.namespace
    assert tracking.start_attempt(rt.redis, ns, 5) == 1
    tracking.finish_attempt(rt.redis, ns, 5, done=False)  # ended normally, a retry follows
    assert rt.redis.exists(tracking.unfinished_key(ns, 5)) == 0
    assert tracking.start_attempt(rt.redis, ns, 5) == 1  # this one crashed
    assert tracking.start_attempt(rt.redis, ns, 5) == 2  # and this one
    assert tracking.start_attempt(rt.redis, ns, 5) == 3
    tracking.finish_attempt(rt.redis, ns, 5, done=False)  # the third ended with a retry
    assert tracking.unfinished_attempts(rt.redis, ns, 5) == 2  # the crashes still count
    assert tracking.unfinished_many(rt.redis, ns, [5, 6]) == {5: 2, 6: 0}
    assert 0 < int(rt.redis.ttl(tracking.unfinished_key(ns, 5))) <= tracking.UNFINISHED_TTL_S  # type: ignore[arg-type]
    tracking.reset_attempts(rt.redis, ns, 5)
    assert tracking.unfinished_attempts(rt.redis, ns, 5) == 0
    tracking.start_attempt(rt.redis, ns, 6)
    tracking.start_attempt(rt.redis, ns, 6)
    tracking.finish_attempt(rt.redis, ns, 6, done=True)  # an outcome for good: the mail is done
    assert rt.redis.exists(tracking.unfinished_key(ns, 6)) == 0


def test_extract_actor_fails_a_poison_mail_without_working_on_it(
    setup: tuple[Any, Runtime],
) -> None:
    broker, rt = setup
    assert rt.redis is not None
    ns = rt.settings.redis.namespace
    for _ in range(3):
        tracking.start_attempt(rt.redis, ns, 11)
    actors.extract(11, "e" * 64)  # the blob does not even exist: no work is attempted
    (out,) = [m["args"][0] for m in _messages(broker, "store")]
    assert out["mail_id"] == 11 and out["final"] is True
    assert out["error"]["code"] == tracking.POISON_CODE
    assert tracking.unfinished_attempts(rt.redis, ns, 11) == 3


def test_suspects_never_run_beside_each_other(setup: tuple[Any, Runtime]) -> None:
    """After a crash every mail that was in flight is a suspect; while one suspect runs, the
    others wait (re-queued with a delay, not started, not counted), so the poison one cannot
    take them down a second time."""
    broker, rt = setup
    assert rt.redis is not None
    ns = rt.settings.redis.namespace
    tracking.start_attempt(rt.redis, ns, 21)  # both in flight when the worker died
    tracking.start_attempt(rt.redis, ns, 22)
    holder = tracking.SuspectLock(rt.redis, ns, ttl_s=0.6)
    assert holder.acquire()  # mail 21 runs as the suspect (in another worker)
    actors.extract(22, "f" * 64)
    assert tracking.unfinished_attempts(rt.redis, ns, 22) == 1  # not started
    (again,) = _messages(broker, "extract.DQ")
    assert again["args"] == [22, "f" * 64]
    assert again["options"]["eta"] > time.time() * 1000
    time.sleep(1.0)  # longer than the TTL: the refresh thread keeps the lock
    assert not tracking.SuspectLock(rt.redis, ns).acquire()
    holder.release()
    other = tracking.SuspectLock(rt.redis, ns, ttl_s=0.3)
    assert other.acquire()
    other._stop.set()  # its holder "dies": nobody refreshes the lock any more
    time.sleep(0.5)
    assert tracking.SuspectLock(rt.redis, ns).acquire()  # expired: free again


# --- end to end: a worker killed each time it picks the poison mail up ----------------------


def _offer_mail(subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Sales <sales@poison-test.example>"
    msg["To"] = "purchasing@buyer.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="poison-test.example")
    msg.set_content(body)
    return msg.as_bytes()


@pytest.mark.llm
def test_poison_mail_killing_its_worker_ends_failed(tmp_path: Path, vllm_server: str) -> None:
    """The worker is SIGKILLed every time it starts on one mail; after ``poison_attempts``
    kills that mail ends ``failed`` (poison_mail) and the worker, restarted, extracts the
    other mail normally."""
    red = RedisServer(tmp_path)
    ns = "poison"
    app = Appliance(tmp_path, {
        "APPLIANCE_REDIS__URL": red.url,
        "APPLIANCE_REDIS__NAMESPACE": ns,
        "APPLIANCE_REDIS__HEARTBEAT_TIMEOUT_MS": "2000",
        "APPLIANCE_REDIS__MAINTENANCE_CHANCE": "1000000",
        "APPLIANCE_LLM__BASE_URL": vllm_server,
        "APPLIANCE_WORKER__THREADS": "2",
        "APPLIANCE_WORKER__POISON_ATTEMPTS": "3",
    })  # fmt: skip
    mails = tmp_path / "in"
    mails.mkdir()
    # In a sentence, so the model reads it (a "Product: …" block is read without it, too fast
    # for the kill).
    poison = _offer_mail("Offer P", "we can supply poison pills at 5.00 EUR a piece, 100 pieces.")
    (mails / "poison.eml").write_bytes(poison)
    (mails / "fine.eml").write_bytes(
        _offer_mail(
            "Offer F",
            "Product: Wood screws 4x40 mm\nQuantity: 100 boxes\n"
            "Unit price: 12.50 EUR\nLead time: 7 days",
        )
    )
    client = redis.Redis.from_url(red.url)
    kills = 0
    try:
        app.start("server")
        subprocess.run([sys.executable, "-m", "appliance.cli", "import", str(mails)],
                       env=app.env, check=True, capture_output=True)  # fmt: skip

        def ids() -> dict[str, int] | None:
            items = app.get("/api/v1/mails", limit=10)["items"]
            found = {m["subject"]: int(m["id"]) for m in items}
            return found if len(found) == 2 else None

        by_subject = wait_for("both mails recorded", ids, 30)
        poison, fine = by_subject["Offer P"], by_subject["Offer F"]
        key = tracking.unfinished_key(ns, poison)
        app.start("worker")
        seen = 0
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline:
            n = int(client.get(key) or 0)  # type: ignore[arg-type]
            if n > seen:  # the worker just started on the poison mail: it "crashes"
                app.stop("worker", kill=True)
                kills += 1
                seen = n
                app.start("worker")
            if app.get(f"/api/v1/mails/{poison}")["state"] == "failed":
                break
            time.sleep(0.02)
        detail = app.get(f"/api/v1/mails/{poison}")
        assert detail["state"] == "failed", detail
        assert detail["error"]["code"] == "poison_mail", detail
        assert "started 3 times" in detail["error"]["message"]
        assert kills == 3
        other = wait_for("the other mail extracted",
                         lambda: (m := app.get(f"/api/v1/mails/{fine}"))["state"] != "received"
                         and m, 60)  # fmt: skip
        assert other["state"] in ("extracted", "no_offer"), other
        assert tracking.unfinished_attempts(client, ns, fine) == 0  # done: count dropped
        # Taken down with the poison mail at most once: it never ran as a suspect twice.
        assert f"mail {fine}: 2 earlier" not in app.log("worker")
    finally:
        app.stop_all()
        red.stop()
        print(f"--- worker log (tail) ---\n{app.log('worker')[-3000:]}")
