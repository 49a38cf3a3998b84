"""Structured logs: the mail, offer and outbox ids of the work at hand on every log line.

A context (a ``ContextVar``, so per thread and per asyncio task) holds the ids of what is being
processed. ``LogContextMiddleware`` fills it from each Dramatiq message's arguments before the
actor runs and empties it after Dramatiq's own logging of the outcome, so every line logged
while a message is processed (the actor's, the LLM client's, the dialogue's, Dramatiq's
"Failed to process message" and "Retrying message") carries them. ``bind`` adds an id found
on the way (the mail id once a sighting is recorded); ``log_context`` scopes ids to a block
elsewhere (the scheduler). ``ContextFilter`` copies the context onto each record and
``JsonFormatter`` writes known fields as JSON keys (``appliance --log-format json``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

# Fields copied from the record into the JSON object (from ``extra={...}`` or the context).
FIELDS = ("mail_id", "offer_id", "outbox_id", "idem_key", "account", "actor")

_CTX: ContextVar[dict[str, Any] | None] = ContextVar("appliance_log_context", default=None)


def current() -> dict[str, Any]:
    """The ids of the work at hand (a copy)."""
    return dict(_CTX.get() or {})


def bind(**fields: Any) -> None:
    """Add ids to the current context (``None`` values are left out)."""
    _CTX.set({**(_CTX.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Scope ids to a block: lines logged inside carry them."""
    token = _CTX.set({**(_CTX.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CTX.reset(token)


def offer_of_idem_key(idem_key: str) -> int | None:
    """The offer id of an outbox idempotency key ``offer:<id>:<kind>[:<round>]``."""
    parts = idem_key.split(":")
    if len(parts) >= 2 and parts[0] == "offer" and parts[1].isdigit():
        return int(parts[1])
    return None


def message_fields(actor: str, args: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """The ids an actor's message names, from its arguments (see ``appliance.jobs.actors``)."""
    out: dict[str, Any] = {"actor": actor}
    a = list(args)
    if actor == "extract" and a:
        out["mail_id"] = a[0]
    elif actor == "poll" and a:
        out["account"] = a[0]
    elif actor == "record_mail" and a and isinstance(a[0], dict):
        out["account"] = a[0].get("account")
    elif actor == "save_extraction" and a and isinstance(a[0], dict):
        out["mail_id"] = a[0].get("mail_id")
    elif actor in ("deliver", "record_delivery") and a:
        out["outbox_id"] = a[0]
        if actor == "deliver" and len(a) > 1 and isinstance(a[1], str):
            out["idem_key"] = a[1]
            out["offer_id"] = offer_of_idem_key(a[1])
    return {k: v for k, v in out.items() if v is not None}


class LogContextMiddleware(Middleware):
    """Sets the log context from each message before its actor runs; clears it afterwards.

    Add it first (``before`` every other middleware) so that its ``after`` hooks run last,
    after the Retries middleware logged the retry."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        _CTX.set(message_fields(message.actor_name, message.args))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        _CTX.set(None)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        _CTX.set(None)


def install_middleware(broker: dramatiq.Broker) -> None:
    """Add ``LogContextMiddleware`` to ``broker`` ahead of every other middleware."""
    mw = LogContextMiddleware()
    if broker.middleware:
        broker.add_middleware(mw, before=type(broker.middleware[0]))
    else:
        broker.add_middleware(mw)


class ContextFilter(logging.Filter):
    """Copies the log context onto each record (a field given by ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_CTX.get() or {}).items():
            if key not in record.__dict__:
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (for journald / log shippers), with the ids as keys."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def delivery_fields(d: Any) -> dict[str, Any]:
    """``extra`` for a log line about an outbox row (``store.outbox.Delivery``)."""
    out = {
        "outbox_id": d.outbox_id,
        "idem_key": d.idem_key,
        "offer_id": offer_of_idem_key(d.idem_key),
    }
    return {k: v for k, v in out.items() if v is not None}
