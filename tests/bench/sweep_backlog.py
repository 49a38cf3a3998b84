"""Backlog benchmark of the stuck-mail sweep: extractions per mail (the aim is 1.00).

A report, not a test. A private Redis, ``appliance server`` and ``appliance worker`` (one
thread) run as subprocesses with ``server.stuck_after_s`` short; a tiny fake OpenAI-compatible
server answers every chat completion with ``{}`` after ``--llm-delay`` seconds (the mails are
prose, so each needs one model call). ``--mails`` mails are imported at once, so the last one
waits about ``mails * llm_delay`` seconds: the backlog is ``--factor`` times longer than
``stuck_after_s`` covers (``stuck_after_s = mails * llm_delay / factor``). The clock stops when
every mail is terminal and no extract or store message is left; then printed: mails, backlog
seconds, stuck_after_s, extractions per mail (outcomes the server stored, duplicates ignored
included, from the ``events`` table), model calls per mail (at the fake server), and the
sweep's re-queues and poison failures.

    .venv/bin/python tests/bench/sweep_backlog.py --mails 40 --llm-delay 0.5 --factor 10

``--code-root DIR`` runs another checkout's server and worker (e.g. ``git worktree add
/tmp/base main``) the same way, to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `appliance` and `tests` importable
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import redis  # noqa: E402

from tests.integration.services import Appliance, RedisServer, wait_for  # noqa: E402

TERMINAL = {"extracted", "no_offer", "failed"}
PRODUCTS = ["corrugated boxes 40x30x20 cm", "stretch film 500 mm", "wood screws 4x40 mm",
            "packing tape 48 mm", "cable ties 300 mm", "bubble wrap 1 m"]  # fmt: skip


class FakeLLM(ThreadingHTTPServer):
    """Answers ``/health`` and ``/v1/chat/completions`` (``{}`` after ``delay`` seconds)."""

    daemon_threads = True

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeLLM

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"data": [{"id": "fake"}]} if "models" in self.path else {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with self.server.lock:
            self.server.calls += 1
        time.sleep(self.server.delay)
        self._send({
            "id": "fake", "object": "chat.completion", "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "{}"}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 2, "total_tokens": 102},
        })  # fmt: skip


def write_mails(folder: Path, n: int, tag: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        product = PRODUCTS[i % len(PRODUCTS)]
        (folder / f"{i:04d}.eml").write_text(
            f"From: Supplier {i} <sales{i}@{tag}-s{i}.example>\n"
            f"To: purchasing@buyer.example\nSubject: Offer {tag} {i}\n"
            f"Message-ID: <{tag}.{i}@{tag}-s{i}.example>\nDate: Thu, 03 Dec 2026 10:00:00 +0000\n"
            "Content-Type: text/plain; charset=utf-8\n\n"
            f"Hello,\n\nwe can offer {100 + i} pcs of {product} at {1 + i % 9}.{i % 100:02d} EUR"
            f" per piece. Delivery in {5 + i % 10} days.\n\nRegards,\nSupplier {i}\n"
        )


def run(args: argparse.Namespace) -> dict[str, Any]:
    stuck = round(args.mails * args.llm_delay / args.threads / args.factor, 2)
    work = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    if args.code_root:
        os.chdir(args.code_root)  # `python -m appliance.cli` then runs that checkout's code
    llm = FakeLLM(args.llm_delay)
    red = RedisServer(work)
    app = Appliance(work, {
        "APPLIANCE_REDIS__URL": red.url,
        "APPLIANCE_LLM__BASE_URL": llm.url,
        "APPLIANCE_LLM__MODEL": "fake",
        "APPLIANCE_SERVER__STUCK_AFTER_S": str(stuck),
        "APPLIANCE_SERVER__POLL_INTERVAL_S": "1",
        "APPLIANCE_WORKER__THREADS": str(args.threads),
        "APPLIANCE_WORKER__MAX_RETRIES": "0",
    })  # fmt: skip
    client = redis.Redis.from_url(red.url)
    write_mails(work / "mails", args.mails, work.name[-6:].replace("_", ""))
    try:
        app.start("server")
        app.start("worker")
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "appliance.cli", "import", str(work / "mails")],
                       env=app.env, check=True, capture_output=True)  # fmt: skip

        def done() -> bool:
            rows = app.get("/api/v1/mails", limit=500)["items"]
            if len(rows) < args.mails or any(r["state"] not in TERMINAL for r in rows):
                return False
            left = sum(int(client.hlen(f"appliance-dq:{q}.msgs"))  # type: ignore[arg-type]
                       for q in ("extract", "extract.DQ", "store", "store.DQ"))  # fmt: skip
            return left == 0

        wait_for("every mail terminal and the queues empty", done, args.timeout, interval=1)
        backlog_s = time.monotonic() - t0
        time.sleep(2)  # a last sweep or two: nothing more may come
        app.stop_all()
    finally:
        app.stop_all()
        red.stop()
        llm.shutdown()
    con = duckdb.connect(str(work / "data" / "appliance.duckdb"), read_only=True)
    counts = dict(con.execute(
        "SELECT outcome, count(*) FROM events WHERE stage = 'extract' GROUP BY outcome"
    ).fetchall())  # fmt: skip
    states = dict(con.execute("SELECT state, count(*) FROM mails GROUP BY state").fetchall())
    con.close()
    runs = sum(counts.get(k, 0) for k in ("extracted", "no_offer", "failed", "retry",
                                          "duplicate_ignored"))  # fmt: skip
    return {
        "code": str(args.code_root or ROOT),
        "mails": args.mails,
        "backlog_s": round(backlog_s, 1),
        "stuck_after_s": stuck,
        "backlog_over_stuck": round(backlog_s / stuck, 1),
        "extractions_per_mail": round(runs / args.mails, 2),
        "model_calls_per_mail": round(llm.calls / args.mails, 2),
        "requeued": counts.get("requeued", 0),
        "duplicates_ignored": counts.get("duplicate_ignored", 0),
        "states": states,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mails", type=int, default=40)
    p.add_argument("--llm-delay", type=float, default=0.5, help="seconds per model call")
    p.add_argument("--factor", type=float, default=10.0, help="backlog / stuck_after_s")
    p.add_argument("--threads", type=int, default=1, help="worker threads")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--code-root", type=Path, help="another checkout's server and worker")
    print(json.dumps(run(p.parse_args())))


if __name__ == "__main__":
    main()
