"""``appliance worker``: the Dramatiq worker for the mail and extract queues, plus IMAP IDLE."""

from __future__ import annotations

import logging
import signal
import threading

import dramatiq
from prometheus_client import start_http_server

from appliance.errors import ApplianceError
from appliance.jobs.actors import Runtime, connect, queue_poll
from appliance.mail.fetch import idle_wait
from appliance.settings import AccountSettings, Settings

log = logging.getLogger(__name__)


def idle_loop(rt: Runtime, account: AccountSettings, stop: threading.Event) -> None:
    """Wait in IMAP IDLE on the first folder; news triggers a poll (polling stays the truth)."""
    backoff = 5.0
    while not stop.is_set():
        try:
            if idle_wait(account, account.password().get_secret_value(), account.folders[0], 300.0):
                queue_poll(rt, account.name)
            backoff = 5.0
        except ApplianceError as exc:
            log.warning("IDLE on %s failed: %s; retry in %.0fs", account.name, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 300.0)


def run_worker(
    settings: Settings, *, threads: int | None = None, metrics_port: int | None = None
) -> None:
    """Consume the worker queues until SIGTERM/SIGINT; expose /metrics on ``metrics_port``."""
    broker, rt = connect(settings, poller=True)
    port = settings.worker.metrics_port if metrics_port is None else metrics_port
    if port:
        start_http_server(port, addr="127.0.0.1")
    queues: set[str] = set(settings.worker.queues)
    worker = dramatiq.Worker(
        broker, queues=queues, worker_threads=threads or settings.worker.threads
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    for acc in settings.accounts if "mail" in queues else []:
        if acc.protocol == "imap" and acc.idle:
            threading.Thread(
                target=idle_loop, args=(rt, acc, stop), name=f"idle-{acc.name}", daemon=True
            ).start()
    log.info("worker consuming %s with %d threads", sorted(queues), len(worker.workers))
    stop.wait()
    log.info("worker stopping")
    worker.stop()
    broker.close()
