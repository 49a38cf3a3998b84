"""``appliance server``: the DB owner: API, /metrics, the ``store`` queue consumer, scheduler."""

from __future__ import annotations

import logging
import threading

import dramatiq
import uvicorn
from dramatiq.brokers.redis import RedisBroker

from appliance import logs, metrics
from appliance.api import AppContext, create_app
from appliance.integrations.webhooks import WebhookService
from appliance.jobs import tracking
from appliance.jobs.actors import Runtime, connect, queue_poll, record, send_delivery
from appliance.jobs.broker import SERVER_QUEUES, pending_extractions, redis_client
from appliance.settings import Settings
from appliance.store import outbox, rederive, repo, suppliers
from appliance.store.db import Database
from appliance.workflow import catalogue, dialogue

log = logging.getLogger(__name__)


class Scheduler(threading.Thread):
    """Sends a poll per account every ``poll_interval_s`` (unless one is queued still) and
    re-queues extractions that are lost (not merely waiting in a backlog)."""

    def __init__(self, rt: Runtime, broker: RedisBroker) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.rt = rt
        self.broker = broker
        self.stop_event = threading.Event()

    def redis_lost_data(self) -> bool:
        """True when Redis holds none of our state: it restarted without its data (or is
        new), so the messages queued in it are gone. Checked through a key the scheduler
        keeps there."""
        assert self.rt.redis is not None
        key = f"{self.rt.settings.redis.namespace}:scheduler:alive"
        return bool(self.rt.redis.set(key, "1", nx=True))

    def tick(self) -> None:
        s = self.rt.settings
        # After a Redis data loss, re-queue the waiting work now, not after stuck_after_s.
        stuck_after_s = s.server.stuck_after_s
        if self.redis_lost_data():
            log.warning("Redis has none of our state (restarted empty?): re-queueing now")
            stuck_after_s = 0.0
        for acc in s.accounts:
            queue_poll(self.rt, acc.name)
        assert self.rt.db is not None
        for mail_id, sha in self.claim_lost_mails(stuck_after_s):
            log.warning("mail %s waited too long for extraction and its message is gone;"
                        " queued again", mail_id, extra={"mail_id": mail_id})  # fmt: skip
            self.rt.send("extract", mail_id, sha)
        for d in dialogue.due_actions(self.rt.db, s):
            log.info("offer e-mail due: %s", d.idem_key, extra=logs.delivery_fields(d))
            send_delivery(self.rt, d)
        for d in outbox.stale_queued(self.rt.db, stuck_after_s):
            log.warning("outbox %s waited too long for delivery; queued again", d.idem_key,
                        extra=logs.delivery_fields(d))  # fmt: skip
            send_delivery(self.rt, d)

    def claim_lost_mails(self, stuck_after_s: float) -> list[tuple[int, str]]:
        """Stuck mails whose work the broker no longer holds, to queue again; those with
        ``worker.poison_attempts`` unfinished attempts are failed instead."""
        assert self.rt.db is not None and self.rt.redis is not None
        client, ns = self.rt.redis, self.rt.settings.redis.namespace
        cap = self.rt.settings.worker.poison_attempts
        # The broker first, the DB after: work that moves on meanwhile is seen in one of them.
        waiting = pending_extractions(self.broker.client, self.broker.namespace)

        def give_up(ids: list[int]) -> dict[int, tuple[str, str]]:
            counts = tracking.unfinished_many(client, ns, ids)
            return {m: (tracking.POISON_CODE, tracking.poison_message(n))
                    for m, n in counts.items() if n >= cap}  # fmt: skip

        return repo.claim_stuck_mails(self.rt.db, stuck_after_s, waiting=waiting, give_up=give_up)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed; trying again next interval")
            self.stop_event.wait(self.rt.settings.server.poll_interval_s)


def retry_extraction(rt: Runtime, mail_id: int, sha: str) -> None:
    """An operator's retry: a fresh round of attempts (a poison mail gets one more chance)."""
    if rt.redis is not None:
        tracking.reset_attempts(rt.redis, rt.settings.redis.namespace, mail_id)
    rt.send("extract", mail_id, sha)


def run_server(settings: Settings) -> None:
    """Open the DB, consume the ``store`` queue, schedule polls, serve HTTP until stopped."""
    db = Database.open(settings.paths.db_file, recover=True)
    if db.recovery is not None:
        metrics.DB_RECOVERED.labels(db.recovery.lost).set(1)
    suppliers.sync_registry(db, settings.suppliers)
    catalogue.load_rates_file(db, settings)  # ConfigError for a bad file: stop here
    hooks = WebhookService(db, settings.webhooks)  # ConfigError (e.g. unknown event) here
    broker, rt = connect(settings, db=db)
    queue_extract = lambda mail_id, sha: rt.send("extract", mail_id, sha)  # noqa: E731
    if rederive.run_pending(db, rt.blobs, queue_extract) is None:
        lost = rederive.reconcile(db, rt.blobs, queue_extract)
        if lost:
            metrics.DB_RECOVERED.labels("silent").set(1)
    consumer = dramatiq.Worker(broker, queues=SERVER_QUEUES, worker_threads=1)
    scheduler = Scheduler(rt, broker)
    ctx = AppContext(
        settings=settings,
        db=db,
        redis=redis_client(settings),
        requeue=lambda mail_id, sha: retry_extraction(rt, mail_id, sha),
        deliver=lambda d: send_delivery(rt, d),
        intake=lambda msg: record(rt, msg),
    )
    consumer.start()
    scheduler.start()
    hooks.start()
    log.info("server on http://%s:%s", settings.server.host, settings.server.port)
    try:
        uvicorn.run(
            create_app(ctx),
            host=settings.server.host,
            port=settings.server.port,
            log_level="warning",
            # request.client is the socket peer: X-Forwarded-For is read only from
            # auth.trusted_proxies, by the login throttle (appliance.auth.client_addr).
            proxy_headers=False,
        )
    finally:
        scheduler.stop_event.set()
        hooks.stop()
        consumer.stop()
        broker.close()
        db.close()
