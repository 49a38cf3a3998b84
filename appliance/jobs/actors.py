"""Dramatiq actors: thin loops around plain functions (tests call those without Redis).

Queues: ``mail`` (poll an account), ``extract`` (one mail → offer) run in ``appliance worker``;
``store`` (every DB write) runs only in ``appliance server``, the sole owner of the DuckDB file.
Every actor is safe to run twice: the store functions are idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from appliance import logs, metrics
from appliance.adapters import active_adapter
from appliance.errors import (
    ApplianceError,
    ExtractionInvalid,
    NotFound,
    PermanentError,
    TransientError,
)
from appliance.extract.extractor import extract_offer
from appliance.extract.fields import extra_fields
from appliance.extract.llm_client import LLMClient
from appliance.jobs import tracking
from appliance.jobs.broker import (
    QUEUE_EXTRACT,
    QUEUE_MAIL,
    QUEUE_OUTBOX,
    QUEUE_STORE,
    make_broker,
    redis_client,
)
from appliance.mail import status as mail_status
from appliance.mail.blobstore import BlobStore
from appliance.mail.poller import CursorStore, poll_account
from appliance.messages import ErrorInfo, ExtractionOutcome, RecordMail
from appliance.settings import Settings
from appliance.store import outbox, repo
from appliance.store.db import Database
from appliance.store.outbox import Delivery
from appliance.workflow import delivery, dialogue, reading

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the actors of this process work with, set once at process start."""

    settings: Settings
    blobs: BlobStore
    cursors: CursorStore | None = None
    redis: redis.Redis | None = None
    db: Database | None = None
    actors: dict[str, dramatiq.Actor[Any, Any]] = field(default_factory=dict)

    def send(self, actor: str, *args: Any) -> None:
        self.actors[actor].send(*args)


_rt: Runtime | None = None


def runtime() -> Runtime:
    if _rt is None:
        raise RuntimeError("actors used before declare_actors()")
    return _rt


def _retries_done() -> int:
    msg = CurrentMessage.get_current_message()
    return int(msg.options.get("retries", 0)) if msg else 0


def queue_poll(rt: Runtime, account_name: str) -> bool:
    """Send a poll of the account unless one is queued already; True when sent."""
    assert rt.redis is not None
    ttl = rt.settings.server.poll_queued_ttl_s
    if not tracking.claim_poll(rt.redis, rt.settings.redis.namespace, account_name, ttl):
        return False
    rt.send("poll", account_name)
    return True


# --- worker side -------------------------------------------------------------------------


def poll(account_name: str) -> None:
    """Fetch new mail of one account and send each to ``record_mail``.

    A permanent error (the server refused the password: ``MailAuthError``) is recorded for
    ``/healthz`` and ``/metrics`` (``mail.status``) and logged, and the poll ends without
    raising, so Dramatiq does not retry it; transient errors raise and are retried."""
    rt = runtime()
    account = rt.settings.account(account_name)
    assert rt.cursors is not None
    ns = rt.settings.redis.namespace
    if rt.redis is not None:  # a poll sent now may wait behind this one (mail coming meanwhile)
        tracking.poll_started(rt.redis, ns, account_name)
    try:
        with metrics.STAGE_SECONDS.labels("poll").time():
            n = poll_account(
                account,
                account.password().get_secret_value(),
                rt.blobs,
                rt.cursors,
                lambda msg: rt.send("record_mail", msg.model_dump(mode="json")),
                max_bytes=rt.settings.preprocess.max_bytes,
            )
    except PermanentError as exc:
        metrics.POLLS.labels(account_name, exc.code).inc()
        metrics.ACCOUNT_FAILED.labels(account_name).set(1)
        mail_status.record_failure(rt.cursors.client, ns, account_name, exc)
        log.error("account %s: %s (not retried; fix the configuration)", account_name, exc.message)
        return
    except Exception as exc:
        code = exc.code if isinstance(exc, ApplianceError) else "internal"
        metrics.POLLS.labels(account_name, code).inc()
        raise
    metrics.POLLS.labels(account_name, "ok").inc()
    metrics.MAILS_FETCHED.labels(account_name).inc(n)
    metrics.ACCOUNT_FAILED.labels(account_name).set(0)
    mail_status.record_ok(rt.cursors.client, ns, account_name)


# A suspect waiting for the suspect lock comes back after the holder's remaining time plus this.
SUSPECT_RETRY_MS = 1000


def extract(mail_id: int, sha256: str) -> None:
    """Extract one stored mail and send the outcome (offer or error) to ``save_extraction``.

    Each attempt is counted in Redis before any work and uncounted when it ends normally, so
    attempts that crashed, were killed or hung add up (``tracking``): a mail with
    ``worker.poison_attempts`` of them is failed, one with fewer runs only as the one suspect.
    """
    rt = runtime()
    assert rt.redis is not None
    ns = rt.settings.redis.namespace
    unfinished = tracking.unfinished_attempts(rt.redis, ns, mail_id)
    if unfinished >= rt.settings.worker.poison_attempts:
        log.error("mail %s: %d extraction attempts never finished; failed as poison",
                  mail_id, unfinished, extra={"mail_id": mail_id})  # fmt: skip
        error = ErrorInfo(code=tracking.POISON_CODE, message=tracking.poison_message(unfinished))
        outcome = ExtractionOutcome(mail_id=mail_id, sha256=sha256, final=True, error=error)
        rt.send("save_extraction", outcome.model_dump(mode="json"))
        return
    lock: tracking.SuspectLock | None = None
    if unfinished:
        lock = tracking.SuspectLock(rt.redis, ns)
        if not lock.acquire():  # another suspect runs: never beside it (it may crash us both)
            delay = lock.remaining_ms() + SUSPECT_RETRY_MS
            rt.actors["extract"].send_with_options(
                args=(mail_id, sha256), delay=delay, retries=_retries_done()
            )
            return
        log.warning("mail %s: %d earlier attempt(s) never finished; extracting it alone",
                    mail_id, unfinished, extra={"mail_id": mail_id})  # fmt: skip
    try:
        tracking.start_attempt(rt.redis, ns, mail_id)
        _extract(rt, mail_id, sha256)
    finally:
        if lock is not None:
            lock.release()


def _extract(rt: Runtime, mail_id: int, sha256: str) -> None:
    assert rt.redis is not None
    settings = rt.settings
    max_retries = settings.worker.max_retries
    start = time.perf_counter()
    outcome = ExtractionOutcome(mail_id=mail_id, sha256=sha256)
    retry_exc: Exception | None = None
    try:
        raw = rt.blobs.get(sha256)

        model = active_adapter(settings, rt.redis) or settings.llm.model
        outcome.model = model

        async def run() -> Any:
            client = LLMClient(settings.llm)
            try:
                return await extract_offer(raw, settings, client, model=model)
            finally:
                await client.aclose()

        ex = asyncio.run(run())
        outcome.offer = ex.offer.model_dump(mode="json")
        outcome.model = ex.completion.model
        outcome.language = ex.mail.language
        outcome.attachments = [a.__dict__ for a in ex.mail.attachments]
        outcome.warnings = [*ex.mail.warnings, *(f"not in the mail: {d}" for d in ex.dropped)]
        outcome.preprocess_ms = ex.preprocess_ms
        outcome.llm_ms = ex.completion.elapsed_ms
        outcome.prompt_tokens = ex.completion.prompt_tokens
        outcome.completion_tokens = ex.completion.completion_tokens
        outcome.thread = reading.thread_facts(ex.mail)
        outcome.spans = reading.value_spans(ex.offer, ex.mail.text)
        outcome.confidence = ex.confidence
        outcome.unfound = ex.unfound
        outcome.answers = reading.form_answers(ex.mail.text, extra_fields(settings))
        metrics.LLM_TOKENS.labels("prompt").inc(ex.completion.prompt_tokens)
        metrics.LLM_TOKENS.labels("completion").inc(ex.completion.completion_tokens)
        metrics.LLM_TOKENS.labels("cached").inc(ex.completion.cached_tokens)
        metrics.STAGE_SECONDS.labels("preprocess").observe(ex.preprocess_ms / 1000)
        metrics.STAGE_SECONDS.labels("llm").observe(ex.completion.elapsed_ms / 1000)
        log.info("mail %s extracted: %d item(s), %d+%d tokens, LLM %.1fs", mail_id,
                 len(ex.offer.items), ex.completion.prompt_tokens,
                 ex.completion.completion_tokens, ex.completion.elapsed_ms / 1000)  # fmt: skip
    except PermanentError as exc:
        outcome.error = ErrorInfo(code=exc.code, message=exc.message, detail=exc.detail)
        if isinstance(exc, ExtractionInvalid):
            metrics.EXTRACTION_INVALID.labels(exc.code).inc()
        log.warning("mail %s: extraction failed for good (%s)", mail_id, exc.code)
    except Exception as exc:  # transient, or a bug: retry, and record the reason each time
        app = exc if isinstance(exc, ApplianceError) else None
        final = _retries_done() >= max_retries
        outcome.error = ErrorInfo(
            code=app.code if app else "internal",
            message=app.message if app else f"{type(exc).__name__}: {exc}",
            detail=app.detail if app else None,
            transient=isinstance(exc, TransientError),
        )
        outcome.final = final
        log.warning("mail %s: extraction failed (%s), final=%s", mail_id, exc, final)
        if not final:
            retry_exc = exc
    metrics.STAGE_SECONDS.labels("extract").observe(time.perf_counter() - start)
    rt.send("save_extraction", outcome.model_dump(mode="json"))
    # Ended normally (an outcome, even an error): not an unfinished attempt. A crash, a kill or
    # the time limit's interrupt (a BaseException) never gets here.
    tracking.finish_attempt(rt.redis, settings.redis.namespace, mail_id, done=retry_exc is None)
    if retry_exc is not None:
        raise retry_exc


# --- server side (the DB owner) ----------------------------------------------------------


def record(rt: Runtime, msg: RecordMail) -> repo.Recorded:
    """Record a raw mail sighting (already in the blob store); queue its extraction when it
    still needs one. The one path of every intake, in the DB owner: IMAP/POP3 and
    ``appliance import`` reach it through the ``record_mail`` actor, the intake API
    (``appliance.api.intake``) calls it directly."""
    assert rt.db is not None
    with metrics.STAGE_SECONDS.labels("record").time():
        rec = repo.record_mail(rt.db, msg)
    logs.bind(mail_id=rec.mail_id)
    if rec.new_mail:
        metrics.MAILS_RECEIVED.labels(msg.account).inc()
    if rec.needs_extraction and (rec.new_mail or rec.new_key):
        rt.send("extract", rec.mail_id, msg.sha256)
    return rec


def record_mail(msg: dict[str, Any]) -> None:
    """Record a raw mail sighting; queue its extraction when it still needs one."""
    record(runtime(), RecordMail.model_validate(msg))


def save_extraction(outcome: dict[str, Any]) -> None:
    """Store an extraction outcome and run the dialogue on it (idempotent); queue the e-mails
    it wrote to the outbox."""
    rt = runtime()
    assert rt.db is not None
    out = ExtractionOutcome.model_validate(outcome)
    start = time.perf_counter()
    result, deliveries = dialogue.save_extraction(rt.db, rt.settings, out)
    metrics.STAGE_SECONDS.labels("store").observe(time.perf_counter() - start)
    metrics.STORE_RESULTS.labels(result).inc()
    row = rt.db.query(
        "SELECT m.account, min(om.offer_id) AS offer_id FROM mails m LEFT JOIN offer_mails om"
        " ON om.mail_id = m.id WHERE m.id = ? GROUP BY m.account",
        [out.mail_id],
    )
    account, offer_id = (row[0]["account"], row[0]["offer_id"]) if row else (None, None)
    metrics.mail_processed(account, out.error.code if out.error else None, result)
    logs.bind(offer_id=offer_id)
    log.info("mail %s stored: %s", out.mail_id, result)
    for d in deliveries:
        send_delivery(rt, d)


def send_delivery(rt: Runtime, d: Delivery) -> None:
    """Queue the delivery of one outbox row (after its transaction committed)."""
    rt.send("deliver", d.outbox_id, d.idem_key, d.to_addr, d.message_id,
            base64.b64encode(d.raw).decode())  # fmt: skip


def deliver(outbox_id: int, idem_key: str, to_addr: str, message_id: str, raw_b64: str) -> None:
    """Send (or, in dry-run, write) one outbox e-mail at most once; report to the server."""
    rt = runtime()
    assert rt.redis is not None
    final = _retries_done() >= rt.settings.outbox.max_retries
    with metrics.STAGE_SECONDS.labels("deliver").time():
        state, detail, retry = delivery.deliver_once(
            rt.settings, rt.redis, idem_key, to_addr, message_id, base64.b64decode(raw_b64), final
        )
    metrics.OUTBOX.labels(state).inc()
    log.info("outbox %s (%s): %s", outbox_id, idem_key, state)
    rt.send("record_delivery", outbox_id, state, detail)
    if retry is not None:
        raise retry


def record_delivery(outbox_id: int, state: str, detail: str | None) -> None:
    """Store what delivery did to an outbox row (idempotent)."""
    rt = runtime()
    assert rt.db is not None
    try:
        stored = outbox.record_result(rt.db, outbox_id, state, detail=detail)
    except NotFound:
        # The row's database was lost and re-derived since the e-mail went out: nothing to
        # update, and retrying cannot bring the row back.
        log.error("outbox %s: %s, but the row no longer exists (database recovered?)",
                  outbox_id, state, extra={"outbox_id": outbox_id})  # fmt: skip
        return
    repo.add_event(rt.db, "outbox", stored, detail=f"outbox {outbox_id}: {detail or ''}"[:500])


def declare_actors(broker: dramatiq.Broker, rt: Runtime) -> Runtime:
    """Declare every actor on ``broker`` (both processes declare all, to send to each other)."""
    global _rt
    w = rt.settings.worker

    def retry_when(retries: int, exc: BaseException) -> bool:
        return retries < w.max_retries

    specs: list[tuple[Any, str, dict[str, Any]]] = [
        (
            poll,
            QUEUE_MAIL,
            {
                # Never a permanent error (a wrong password): it fails the same way each time.
                "retry_when": lambda retries, exc: (
                    retries < 3 and not isinstance(exc, PermanentError)
                ),
                "time_limit": 15 * 60_000,
            },
        ),
        (
            extract,
            QUEUE_EXTRACT,
            {
                "retry_when": retry_when,
                "min_backoff": w.min_backoff_ms,
                "max_backoff": w.max_backoff_ms,
                "time_limit": int(rt.settings.llm.timeout_s * 1000 * 4),
            },
        ),
        (
            deliver,
            QUEUE_OUTBOX,
            {
                "retry_when": lambda retries, exc: retries < rt.settings.outbox.max_retries,
                "min_backoff": rt.settings.outbox.min_backoff_ms,
                "max_backoff": rt.settings.outbox.max_backoff_ms,
                "time_limit": int(rt.settings.outbox.smtp.timeout_s * 1000 * 6),
            },
        ),
        (record_mail, QUEUE_STORE, {"max_retries": 20}),
        (save_extraction, QUEUE_STORE, {"max_retries": 20}),
        (record_delivery, QUEUE_STORE, {"max_retries": 20}),
    ]
    for fn, queue, options in specs:
        name = fn.__name__
        decorate = dramatiq.actor(actor_name=name, queue_name=queue, broker=broker, **options)
        rt.actors[name] = decorate(fn)
    _rt = rt
    return rt


def connect(
    settings: Settings, *, db: Database | None = None, poller: bool = False
) -> tuple[RedisBroker, Runtime]:
    """The broker and this process's runtime with every actor declared.

    ``db`` only in the DB owner (server); ``poller`` gives the mail actor its Redis cursors.
    """
    broker = make_broker(settings)
    client = redis_client(settings)
    cursors = CursorStore(client, settings.redis.namespace) if poller else None
    rt = Runtime(
        settings=settings,
        blobs=BlobStore(settings.paths.blob_dir),
        cursors=cursors,
        db=db,
        redis=client,
    )
    return broker, declare_actors(broker, rt)
