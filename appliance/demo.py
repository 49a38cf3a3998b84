"""``appliance demo``: the whole appliance on one box from the built-in defaults.

Starts a private Redis, the vLLM server (unless one already answers), the server and a worker
as child processes, imports the sample supplier mails shipped in ``tests/data/samples/``, waits
until every one is processed, and prints the offers and the API's address.

The supplier dialogue runs in dry-run mode (``outbox.mode = "folder"``): clarifying questions are
written as ``.eml`` files, never sent. The demo then plays one supplier: it answers the first
question by filling in its form, imports that reply, and shows the offer completed from it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from appliance.errors import ApplianceError, ConfigError
from appliance.settings import ROOT, Settings

SAMPLES = ROOT / "tests" / "data" / "samples"
TERMINAL = {"extracted", "no_offer", "failed"}
# The demo's own API calls carry its read token (set in run_demo).
_AUTH: dict[str, str] = {}


def _get(url: str, **kw: Any) -> httpx.Response:
    return httpx.get(url, headers=_AUTH, **kw)


class Processes:
    """Child processes started by the demo, stopped together."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        return proc

    def check(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise ApplianceError(f"{name} exited with {proc.returncode}", detail=tail)

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def _wait(what: str, ok: Any, procs: Processes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check()
        with contextlib.suppress(httpx.HTTPError, OSError):
            if ok():
                return
        time.sleep(1.0)
    raise ApplianceError(f"{what} not ready after {timeout:.0f}s (logs in {procs.log_dir})")


def _redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def print_offers(offers: list[dict[str, Any]]) -> None:
    """A plain-text table: one line per item."""
    cols = ("offer", "supplier", "product", "qty", "price", "cur", "lead d", "lang")
    rows = []
    for o in offers:
        sup = o["supplier"]["name"] or o["supplier"]["email"] or "?"
        for it in o["items"] or [{}]:
            rows.append(
                (
                    str(o["id"]), sup[:24], str(it.get("product_name") or "")[:38],
                    str(it.get("quantity") or it.get("moq") or ""),
                    str(it.get("unit_price") or ""), str(it.get("currency") or ""),
                    str(it.get("lead_time_days") or ""), o["language"],
                )
            )  # fmt: skip
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)
    ]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


# What the demo's make-believe supplier writes into the form, per field key.
_DEMO_ANSWERS = {
    "unit_price": "12.50", "currency": "EUR", "quantity|moq": "100", "quantity": "100",
    "moq": "100", "lead_time_days": "14", "dimensions": "120x60x75 cm", "weight": "12 kg",
    "valid_until": "2027-01-31", "incoterms": "DAP", "payment_terms": "30 days net",
}  # fmt: skip


def fill_form(question: str, language: str) -> str:
    """Answer an appliance question the way a supplier would: the form's item lines, each label
    with a value after it (the demo plays the supplier with this)."""
    from appliance.workflow.labels import FIELD_LABELS, TEXTS

    lang = language if language in FIELD_LABELS else "en"
    keys = {label: key for key, label in FIELD_LABELS[lang].items()}
    out = []
    for line in question.splitlines():
        label = re.match(r"^\s+(.+?):\s*$", line)
        if label and keys.get(label.group(1)) in _DEMO_ANSWERS:
            out.append(f"   {label.group(1)}: {_DEMO_ANSWERS[keys[label.group(1)]]}")
        elif re.match(r"^\d+\. ", line) or line.strip() == TEXTS[lang]["offer_block"]:
            out.append(line)
    return "\n".join(out)


def _dialogue(
    api: str, procs: Processes, base: list[str], env: dict[str, str], data_dir: Path
) -> None:
    """Show the dry-run outbox and play one supplier's answer to its clarifying question."""
    import email
    import email.policy
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    sent = _get(f"{api}/api/v1/outbox", params={"limit": 500}, timeout=5).json()["items"]
    by_state: dict[str, int] = {}
    for row in sent:
        by_state[row["state"]] = by_state.get(row["state"], 0) + 1
    _say(f"automatic e-mails (dry run, written to {data_dir / 'outbox'}): {by_state or 'none'}")
    for row in sent:
        if row["state"] == "suppressed":
            _say(f"  suppressed for offer {row['offer_id']}: {row['reason']}")
    questions = [
        r for r in reversed(sent) if r["kind"] == "clarification" and r["state"] == "written"
    ]
    if not questions:
        return
    q = _get(f"{api}/api/v1/outbox/{questions[0]['id']}", timeout=5).json()
    msg = email.message_from_string(q["message"], policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_content()
    _say(
        f"question to {q['to_addr']} (offer {q['offer_id']}):\n"
        + "\n".join("    " + line for line in body.splitlines())
    )
    answer = fill_form(body, q["language"] or "en")
    reply = EmailMessage()
    reply["From"] = q["to_addr"]
    reply["To"] = msg["From"]
    reply["Subject"] = msg["Subject"]
    reply["Date"] = formatdate()
    reply["Message-ID"] = make_msgid(domain=q["to_addr"].rpartition("@")[2])
    reply["In-Reply-To"] = msg["Message-ID"]
    reply["References"] = f"{msg['References'] or ''} {msg['Message-ID']}".strip()
    quoted = "\n".join("> " + line for line in body.splitlines())
    reply.set_content(f"Hello,\n\n{answer}\n\nRegards\n\n{msg['From']} wrote:\n{quoted}\n")
    path = data_dir / "demo-supplier-reply.eml"
    path.write_bytes(reply.as_bytes(policy=email.policy.SMTP))
    _say(f"playing the supplier: importing a reply that fills in the form ({path})")
    subprocess.run([*base, "import", str(path)], env=env, check=True)
    offer_url = f"{api}/api/v1/offers/{q['offer_id']}"

    def answered() -> bool:
        o = _get(offer_url, timeout=5).json()
        return len(o["source_mail_ids"]) > 1 and o["state"] != "awaiting_supplier"

    _wait("the reply to be merged", answered, procs, 600)
    offer = _get(offer_url, timeout=5).json()
    _say(f"offer {offer['id']} is now {offer['state']}; from the reply:")
    for p in offer["provenance"]:
        if p["current"] and p["mail_id"] == offer["source_mail_ids"][-1]:
            _say(
                f"    item {p['item'] + 1 if p['item'] is not None else '-'} {p['field']} = "
                f"{p['value']!r}  (mail {p['mail_id']}, {p['source']}: {p['text']!r})"
            )
    _say("state history: " + " → ".join(h["to_state"] for h in offer["history"]))


def run_demo(settings: Settings, *, stay: bool = True, redis_port: int = 6391) -> int:
    """Run the demo; with ``stay`` keep everything up until Ctrl-C."""
    from appliance import llm_server

    data_dir = settings.paths.resolve(settings.paths.data_dir) / "demo"
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        **os.environ,
        "APPLIANCE_PATHS__DATA_DIR": str(data_dir),
        "APPLIANCE_REDIS__URL": redis_url,
        "APPLIANCE_SERVER__POLL_INTERVAL_S": "5",
        "APPLIANCE_OUTBOX__MODE": "folder",
        "APPLIANCE_OUTBOX__FOLDER": str(data_dir / "outbox"),
    }
    procs = Processes(log_dir)
    from appliance.auth.bootstrap import demo_access

    access = demo_access(data_dir / "appliance.duckdb")  # before the server holds the file
    _AUTH["Authorization"] = f"Bearer {access.token}"
    api = f"http://{settings.server.host}:{settings.server.port}"
    try:
        if not _redis_up(redis_url):
            exe = shutil.which("redis-server")
            if not exe:
                raise ConfigError("redis-server is not installed (the setup installs it)")
            _say(f"starting Redis on 127.0.0.1:{redis_port}")
            procs.start(
                "redis",
                [exe, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(data_dir)],
                env,
            )  # fmt: skip
            _wait("Redis", lambda: _redis_up(redis_url), procs, 30)
        if llm_server.health(settings.llm.base_url):
            _say(f"using the LLM server already at {settings.llm.base_url}")
        else:
            _say("starting vLLM (CPU) with the bundled model; this takes about a minute")
            t0 = time.monotonic()
            p = llm_server.start_background(settings, log_dir / "llm.log")
            procs.procs.append(("llm", p))
            llm_server.wait_healthy(settings, p, settings.llm.server.startup_timeout_s)
            _say(f"vLLM ready in {time.monotonic() - t0:.0f}s")
        base = [sys.executable, "-m", "appliance.cli"]
        procs.start("server", [*base, "server"], env)
        procs.start("worker", [*base, "worker"], env)
        _wait("API server", lambda: _get(f"{api}/api/schema", timeout=2).is_success, procs, 60)
        files = sorted(SAMPLES.glob("*.eml"))
        _say(f"importing {len(files)} sample mails from {SAMPLES}")
        subprocess.run([*base, "import", str(SAMPLES)], env=env, check=True)
        t0 = time.monotonic()

        def all_done() -> bool:
            r = _get(f"{api}/api/v1/mails", params={"limit": 500}, timeout=5).json()
            done = sum(m["state"] in TERMINAL for m in r["items"])
            return r["total"] >= len(files) and done == r["total"]

        _wait("extraction of the samples", all_done, procs, 900)
        _say(f"all {len(files)} mails processed in {time.monotonic() - t0:.0f}s")
        offers = _get(f"{api}/api/v1/offers", params={"limit": 500}, timeout=10).json()
        print_offers(offers["items"])
        failed = _get(
            f"{api}/api/v1/mails", params={"state": "failed", "limit": 500}, timeout=5
        ).json()
        for m in failed["items"]:
            _say(f"mail {m['id']} failed: {m['error']}")
        _dialogue(api, procs, base, env, data_dir)
        _say(f"API: {api}/api/v1/offers   OpenAPI: {api}/api/schema   health: {api}/healthz")
        if access.admin_password:
            _say(f"dashboard: {api}/  user {access.admin!r}, password {access.admin_password!r}"
                 " (shown this once; with the demo stopped, `APPLIANCE_PATHS__DATA_DIR="
                 f"{data_dir} appliance users passwd admin` changes it)")  # fmt: skip
        else:
            _say(f"dashboard: {api}/  user {access.admin!r} (password from the first demo run)")
        if stay:
            _say("running; Ctrl-C stops everything")
            while True:
                procs.check()
                time.sleep(2)
        return 0
    finally:
        procs.stop()
