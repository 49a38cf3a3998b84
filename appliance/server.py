"""``appliance server``: the DB owner: API, /metrics, the ``store`` queue consumer, scheduler."""

from __future__ import annotations

import logging
import threading

import dramatiq
import uvicorn
from dramatiq.brokers.redis import RedisBroker

from appliance import metrics
from appliance.api import AppContext, create_app
from appliance.jobs.actors import Runtime, connect, send_delivery
from appliance.jobs.broker import SERVER_QUEUES, queue_depths, redis_client
from appliance.settings import Settings
from appliance.store import outbox, repo, suppliers
from appliance.store.db import Database
from appliance.workflow import dialogue

log = logging.getLogger(__name__)


class Scheduler(threading.Thread):
    """Sends a poll per account every ``poll_interval_s`` and re-queues stuck extractions."""

    def __init__(self, rt: Runtime, broker: RedisBroker) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.rt = rt
        self.broker = broker
        self.stop_event = threading.Event()

    def tick(self) -> None:
        s = self.rt.settings
        for acc in s.accounts:
            self.rt.send("poll", acc.name)
        assert self.rt.db is not None
        for mail_id, sha in repo.claim_stuck_mails(self.rt.db, s.server.stuck_after_s):
            log.warning("mail %s waited too long for extraction; queued again", mail_id)
            self.rt.send("extract", mail_id, sha)
        for d in dialogue.due_actions(self.rt.db, s):
            log.info("offer e-mail due: %s", d.idem_key)
            send_delivery(self.rt, d)
        for d in outbox.stale_queued(self.rt.db, s.server.stuck_after_s):
            log.warning("outbox %s waited too long for delivery; queued again", d.idem_key)
            send_delivery(self.rt, d)
        for q, n in queue_depths(self.broker).items():
            metrics.QUEUE_DEPTH.labels(q).set(n)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed; trying again next interval")
            self.stop_event.wait(self.rt.settings.server.poll_interval_s)


def run_server(settings: Settings) -> None:
    """Open the DB, consume the ``store`` queue, schedule polls, serve HTTP until stopped."""
    db = Database.open(settings.paths.db_file)
    suppliers.sync_registry(db, settings.suppliers)
    broker, rt = connect(settings, db=db)
    consumer = dramatiq.Worker(broker, queues=SERVER_QUEUES, worker_threads=1)
    scheduler = Scheduler(rt, broker)
    ctx = AppContext(
        settings=settings,
        db=db,
        redis=redis_client(settings),
        requeue=lambda mail_id, sha: rt.send("extract", mail_id, sha),
        deliver=lambda d: send_delivery(rt, d),
    )
    consumer.start()
    scheduler.start()
    log.info("server on http://%s:%s", settings.server.host, settings.server.port)
    try:
        uvicorn.run(
            create_app(ctx),
            host=settings.server.host,
            port=settings.server.port,
            log_level="warning",
        )
    finally:
        scheduler.stop_event.set()
        consumer.stop()
        broker.close()
        db.close()
