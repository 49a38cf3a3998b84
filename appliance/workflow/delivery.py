"""Delivering one outbox e-mail at most once, whatever Dramatiq redelivers or kills.

Redis keeps two markers per idempotency key: ``sending`` is set immediately before the message
data goes to the SMTP server, ``sent`` right after the server accepted it. A delivery that finds
``sent`` only reports again; one that finds ``sending`` without ``sent`` was interrupted while
the data was on the wire (a killed worker): the e-mail may have arrived, so it is reported
``uncertain`` and never sent again automatically. A short lock keeps two copies of one job from
racing before the data phase. Errors before the data phase, or a definite 4xx reply to it,
clear ``sending`` and are retried with backoff.
"""

from __future__ import annotations

import datetime as dt
import logging

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


def _keys(settings: Settings, idem_key: str) -> tuple[str, str, str]:
    base = f"{settings.redis.namespace}:outbox:{idem_key}"
    return f"{base}:sent", f"{base}:sending", f"{base}:lock"


def _str(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def clear_markers(settings: Settings, client: redis.Redis, idem_key: str) -> None:
    """Forget a delivery's markers (an operator re-sends an uncertain or failed e-mail)."""
    client.delete(*_keys(settings, idem_key))


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
    sent_key, sending_key, lock_key = _keys(settings, idem_key)
    done = client.get(sent_key)
    if done is not None:
        state, _, detail = _str(done).partition(" ")
        return state, f"already delivered: {detail}", None
    started = client.get(sending_key)
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
            client.set(sent_key, f"{WRITTEN} {path}", ex=MARKER_TTL_S)
            return WRITTEN, str(path), None

        def mark_sending() -> None:
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            client.set(sending_key, stamp, ex=MARKER_TTL_S)

        result = send_message(o.smtp, raw, mail_from=o.from_addr, rcpt=[to_addr],
                              before_data=mark_sending)  # fmt: skip
        client.set(sent_key, f"{SENT} {result.response}", ex=MARKER_TTL_S)
        detail = result.response
        if o.sent_account:
            detail += _copy_to_sent(settings, raw)
        return SENT, detail, None
    except SendUncertain as exc:
        return UNCERTAIN, exc.message, None
    except PermanentError as exc:
        client.delete(sending_key)
        return FAILED, f"{exc.code}: {exc.message}", None
    except (TransientError, OSError) as exc:
        client.delete(sending_key)
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
