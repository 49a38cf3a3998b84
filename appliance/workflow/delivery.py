"""Delivering one outbox e-mail at most once, whatever Dramatiq redelivers or kills.

Redis keeps two markers per idempotency key: ``sending`` is set immediately before the message
data goes to the SMTP server, ``sent`` right after the server accepted it. A delivery that finds
``sent`` only reports again; one that finds ``sending`` without ``sent`` was interrupted while
the data was on the wire (a killed worker): the e-mail may have arrived, so it is reported
``uncertain`` and never sent again automatically. A short lock keeps two copies of one job from
racing before the data phase. Errors before the data phase, or a definite 4xx reply to it,
clear ``sending`` and are retried with backoff.

The markers are keyed by the idempotency key *and* the e-mail's Message-ID (a database restored
or recovered from an older state reuses offer ids, hence idempotency keys, for other e-mails),
and each is also written to a small journal file on disk (``paths.delivery_journal``): a Redis
that restarts empty (queued jobs and markers lost; the scheduler re-queues the outbox rows
still ``queued``) must not make an e-mail go out twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
from pathlib import Path

import redis

from appliance.errors import (
    ApplianceError,
    MailServerError,
    PermanentError,
    SendUncertain,
    TransientError,
)
from appliance.mail.smtp import append_to_folder, send_message, write_to_folder
from appliance.settings import Settings
from appliance.store.outbox import FAILED, SENT, UNCERTAIN, WRITTEN

log = logging.getLogger(__name__)

MARKER_TTL_S = 60 * 24 * 3600


def _keys(settings: Settings, idem_key: str, message_id: str) -> tuple[str, str, str]:
    base = f"{settings.redis.namespace}:outbox:{idem_key}:{message_id}"
    return f"{base}:sent", f"{base}:sending", f"{base}:lock"


def _journal(settings: Settings, idem_key: str, message_id: str) -> Path:
    digest = hashlib.sha256(f"{idem_key}\n{message_id}".encode()).hexdigest()
    return settings.paths.delivery_journal / digest[:2] / digest


def _journal_read(path: Path) -> tuple[str | None, str | None]:
    """(sent marker, sending marker) as stored in the journal file, or None each."""
    try:
        kind, _, value = path.read_text().partition("\n")
    except FileNotFoundError:
        return None, None
    return (value, None) if kind == "sent" else (None, value) if kind == "sending" else (None, None)


def _journal_clear_sending(path: Path) -> None:
    """Drop a ``sending`` marker (the data phase failed for sure); a ``sent`` one stays."""
    if _journal_read(path)[1] is not None:
        path.unlink(missing_ok=True)


def _journal_write(path: Path, kind: str, value: str) -> None:
    """Write one marker durably (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with open(tmp, "w") as fh:
        fh.write(f"{kind}\n{value}")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _str(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def clear_markers(settings: Settings, client: redis.Redis, idem_key: str, message_id: str) -> None:
    """Forget a delivery's markers (an operator re-sends an uncertain or failed e-mail)."""
    client.delete(*_keys(settings, idem_key, message_id))
    _journal(settings, idem_key, message_id).unlink(missing_ok=True)


def deliver_once(
    settings: Settings,
    client: redis.Redis,
    idem_key: str,
    to_addr: str,
    message_id: str,
    raw: bytes,
    final: bool,
) -> tuple[str, str | None, Exception | None]:
    """Deliver one e-mail; returns (outbox state, detail, exception to retry on or None)."""
    o = settings.outbox
    sent_key, sending_key, lock_key = _keys(settings, idem_key, message_id)
    journal = _journal(settings, idem_key, message_id)
    j_sent, j_sending = _journal_read(journal)
    done = client.get(sent_key) or j_sent
    if done is not None:
        state, _, detail = _str(done).partition(" ")
        return state, f"already delivered: {detail}", None
    started = client.get(sending_key) or j_sending
    if started is not None:
        return (
            UNCERTAIN,
            (
                f"an earlier delivery was interrupted after its data went out ({_str(started)});"
                " it may have arrived, so it is not sent again: check the recipient or the Sent"
                " folder, then re-send from the API if needed"
            ),
            None,
        )
    lock_ttl = int(o.smtp.timeout_s * 3) + 10
    if not client.set(lock_key, "1", nx=True, ex=lock_ttl):
        return (
            "queued",
            "another delivery of this e-mail is in progress",
            MailServerError("another delivery of this e-mail is in progress; trying later"),
        )
    try:
        if o.mode == "folder":
            path = write_to_folder(settings.outbox_dir, idem_key, raw)
            _journal_write(journal, "sent", f"{WRITTEN} {path}")
            client.set(sent_key, f"{WRITTEN} {path}", ex=MARKER_TTL_S)
            return WRITTEN, str(path), None

        def mark_sending() -> None:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            _journal_write(journal, "sending", stamp)
            client.set(sending_key, stamp, ex=MARKER_TTL_S)

        result = send_message(o.smtp, raw, mail_from=o.from_addr, rcpt=[to_addr],
                              before_data=mark_sending)  # fmt: skip
        _journal_write(journal, "sent", f"{SENT} {result.response}")
        client.set(sent_key, f"{SENT} {result.response}", ex=MARKER_TTL_S)
        detail = result.response
        if o.sent_account:
            detail += _copy_to_sent(settings, raw)
        return SENT, detail, None
    except SendUncertain as exc:
        return UNCERTAIN, exc.message, None
    except PermanentError as exc:
        client.delete(sending_key)
        _journal_clear_sending(journal)
        return FAILED, f"{exc.code}: {exc.message}", None
    except (TransientError, OSError) as exc:
        client.delete(sending_key)
        _journal_clear_sending(journal)
        msg = exc.message if isinstance(exc, ApplianceError) else str(exc)
        if final:
            return FAILED, f"gave up after retries: {msg}", None
        return "queued", f"will retry: {msg}", exc
    finally:
        client.delete(lock_key)


def _copy_to_sent(settings: Settings, raw: bytes) -> str:
    """Append the sent e-mail to the configured IMAP folder; a failure is reported, not fatal
    (the e-mail itself went out)."""
    o = settings.outbox
    assert o.sent_account is not None
    try:
        account = settings.account(o.sent_account)
        append_to_folder(account, account.password(), o.sent_folder, raw)
        return f"; copy in {o.sent_account}/{o.sent_folder}"
    except ApplianceError as exc:
        log.warning("sent e-mail not copied to %s: %s", o.sent_folder, exc.message)
        return f"; NOT copied to {o.sent_folder}: {exc.message}"
