"""Each mail account's last poll outcome, kept in Redis for the server's ``/healthz`` and
``/metrics`` (the polls run in the worker).

A permanent error (``MailAuthError``: the server refused the password) is recorded as
``failed`` and is not retried: the account stays failed, and the others keep being polled,
until a poll succeeds (the password was fixed in the configuration and the worker restarted).
Transient errors (server down, timeouts) are left to Dramatiq's retries and not recorded here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import redis

from appliance.errors import ApplianceError


def _key(namespace: str) -> str:
    return f"{namespace}:mail-account-status"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_ok(client: redis.Redis, namespace: str, account: str) -> None:
    """The account was polled (its failure, if any, is over)."""
    client.hset(_key(namespace), account, json.dumps({"status": "ok", "at": _now()}))


def record_failure(client: redis.Redis, namespace: str, account: str, exc: ApplianceError) -> None:
    """The account failed for good (``exc``: a permanent error); ``since`` keeps the first."""
    old = read(client, namespace, [account]).get(account) or {}
    since = old.get("since") if old.get("status") == "failed" else None
    entry = {
        "status": "failed", "code": exc.code, "error": exc.message, "at": _now(),
        "since": since or _now(),
    }  # fmt: skip
    client.hset(_key(namespace), account, json.dumps(entry))


def read(client: redis.Redis, namespace: str, accounts: list[str]) -> dict[str, dict[str, Any]]:
    """Account name → its last recorded outcome (``{"status": "unknown"}`` before any poll)."""
    if not accounts:
        return {}
    values = client.hmget(_key(namespace), accounts)
    out: dict[str, dict[str, Any]] = {}
    for name, raw in zip(accounts, values, strict=True):
        out[name] = json.loads(raw) if raw else {"status": "unknown"}
    return out
