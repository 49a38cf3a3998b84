"""Webhooks: events from the durable change logs, signed with HMAC-SHA256, retried, logged.

Events come from the logs every write already keeps, so nothing in the write paths changes:
``offer_transitions`` (``offer.complete``, ``offer.needs_review``) and ``corrections``
(``offer.corrected``: the rows of one correction request, grouped by offer, reviewer and time)
and ``catalogue_changes`` (``catalogue.changed``: a new observation moved a supplier's price,
MOQ, lead time or currency; sent only to hooks that list it).

* :func:`dispatch` reads the rows past a cursor (table ``webhook_cursor``) and writes one
  ``webhook_deliveries`` row per (event, hook) in the same transaction as the new cursor; the
  pair is UNIQUE, so a re-run cannot duplicate and a crash cannot lose an event. The cursor
  starts at the end of the logs when the schema is created, and a hook added to the
  configuration later gets the events from then on: history is never replayed.
* :func:`send_next` POSTs a hook's oldest waiting delivery (one hook's deliveries go out in
  event order) and records every attempt in ``webhook_attempts``. 2xx: ``delivered``; 410
  Gone: ``failed`` at once; anything else: ``retrying`` with exponential backoff and jitter,
  ``failed`` after ``max_attempts`` (an operator can retry it).
* :class:`WebhookService` runs both in the server process (the DB owner): one dispatcher
  thread and one sender thread per hook, so a slow or failing receiver delays only itself.

Delivery is at least once (a crash between the receiver's 2xx and its record sends again):
receivers deduplicate on ``X-Appliance-Delivery``. The signature is
``sha256=<hex HMAC-SHA256(secret, "<X-Appliance-Timestamp>.<raw body>")>``; receivers check it
with :func:`verify_signature`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from appliance import metrics
from appliance.errors import ConfigError, Conflict, NotFound
from appliance.settings import WebhookSettings
from appliance.store import catalogue_read, queries
from appliance.store.db import Database, iso_utc, utcnow
from appliance.store.offers import COMPLETE, NEEDS_REVIEW, Con

log = logging.getLogger(__name__)

OFFER_COMPLETE = "offer.complete"
OFFER_NEEDS_REVIEW = "offer.needs_review"
OFFER_CORRECTED = "offer.corrected"
CATALOGUE_CHANGED = "catalogue.changed"  # not in a hook's default events: list it to get it
EVENTS = (OFFER_COMPLETE, OFFER_NEEDS_REVIEW, OFFER_CORRECTED, CATALOGUE_CHANGED)
_STATE_EVENTS = {COMPLETE: OFFER_COMPLETE, NEEDS_REVIEW: OFFER_NEEDS_REVIEW}
# Correction actions that change an offer's data (approve/reject are transitions, sent as such).
_CORRECTING = ("set", "add_item", "remove_item")

PENDING = "pending"
RETRYING = "retrying"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATES = (PENDING, RETRYING, DELIVERED, FAILED)
WAITING = (PENDING, RETRYING)

SIGNATURE_PREFIX = "sha256="
# How often the dispatcher looks for new events and an idle sender for due deliveries.
POLL_S = 1.0
# Share of the backoff added at random (0.2: up to 20 % more), so receivers are not hit in step.
JITTER = 0.2
_ERROR_CHARS = 300


# --- signing ---------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Appliance-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``"<ts>.<body>"``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int | None,
    body: bytes,
    header: str | None,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """For receivers: True when ``header`` (``X-Appliance-Signature``) signs ``body`` with
    ``secret`` at ``timestamp`` (``X-Appliance-Timestamp``) and that time is within
    ``tolerance_s`` seconds of ``now`` (default: the clock), which refuses replayed requests."""
    if not header or timestamp is None:
        return False
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), header.strip())


def headers_for(
    event: str, event_id: str, secret: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """The HTTP headers of one delivery attempt (signed at ``timestamp``, unix seconds)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "supplier-mail-appliance-webhooks/1",
        "X-Appliance-Event": event,
        "X-Appliance-Delivery": event_id,
        "X-Appliance-Timestamp": str(timestamp),
        "X-Appliance-Signature": sign(secret, timestamp, body),
    }


def backoff_s(
    attempts: int, min_s: float, max_s: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after ``attempts`` failed ones: ``min_s * 2**(attempts-1)``
    plus up to ``JITTER`` of it at random, never more than ``max_s``."""
    base = min_s * 2.0 ** max(attempts - 1, 0)
    return min(max_s, base * (1.0 + JITTER * rand()))


def check_hooks(hooks: Sequence[WebhookSettings]) -> None:
    """Validate the configured hooks: ``ConfigError`` for a duplicate name, an unknown event, a
    non-HTTP URL or a bad backoff (the secret is checked per hook by :func:`secret_of`)."""
    seen: set[str] = set()
    for h in hooks:
        if h.name in seen:
            raise ConfigError(f"webhook {h.name!r} is configured twice")
        seen.add(h.name)
        bad = [e for e in h.events if e not in EVENTS]
        if bad:
            raise ConfigError(
                f"webhook {h.name!r}: unknown event(s) {', '.join(bad)}",
                detail=f"known: {', '.join(EVENTS)}",
            )
        if not h.url.startswith(("http://", "https://")):
            raise ConfigError(f"webhook {h.name!r}: url must be http:// or https://")
        if h.max_attempts < 1 or h.min_backoff_s < 0 or h.max_backoff_s < h.min_backoff_s:
            raise ConfigError(
                f"webhook {h.name!r}: needs max_attempts >= 1 and 0 <= min_backoff_s <= "
                "max_backoff_s"
            )


def secret_of(hook: WebhookSettings) -> str:
    """The hook's signing secret (every delivery is signed); ``ConfigError`` when missing."""
    secret = hook.password().get_secret_value()
    if not secret:
        raise ConfigError(f"webhook {hook.name!r}: the secret is empty")
    return secret


# --- dispatch: change logs → deliveries -------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One event read from a change log, before it is fanned out."""

    event_id: str
    event: str
    offer_id: int
    occurred_at: dt.datetime
    extra: dict[str, Any]


def _body(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _rows(con: Con, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _cursor(con: Con, source: str) -> int:
    row = con.execute("SELECT last_id FROM webhook_cursor WHERE source = ?", [source]).fetchone()
    if row is None:  # a schema without the seeded row: start at the end (no replay)
        top = con.execute(f"SELECT coalesce(max(id), 0) FROM {source}").fetchone()
        last = int(top[0]) if top else 0
        con.execute("INSERT INTO webhook_cursor VALUES (?, ?)", [source, last])
        return last
    return int(row[0])


def _new_events(con: Con) -> tuple[list[Event], dict[str, tuple[int, int]]]:
    """Events past the cursors, in the order they happened; plus each cursor's old and new
    position."""
    tr_from, co_from = _cursor(con, "offer_transitions"), _cursor(con, "corrections")
    row = con.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
    db_id = row[0] if row else "db"
    events: list[tuple[dt.datetime, int, Event]] = []
    trs = _rows(
        con,
        "SELECT id, offer_id, from_state, to_state, actor, reason, occurred_at"
        " FROM offer_transitions WHERE id > ? ORDER BY id",
        [tr_from],
    )
    for t in trs:
        name = _STATE_EVENTS.get(str(t["to_state"]))
        if name is None:
            continue
        ev = Event(
            f"tr-{db_id}-{t['id']}", name, int(t["offer_id"]), t["occurred_at"],
            {"transition": {k: t[k] for k in ("from_state", "to_state", "actor", "reason")}},
        )  # fmt: skip
        events.append((t["occurred_at"], int(t["id"]), ev))
    cos = _rows(
        con,
        "SELECT id, offer_id, item_position, field, action, before, after, user_name, comment,"
        " created_at FROM corrections WHERE id > ? ORDER BY id",
        [co_from],
    )
    groups: dict[tuple[int, str, dt.datetime], list[dict[str, Any]]] = {}
    for c in cos:
        if c["action"] in _CORRECTING:
            groups.setdefault((int(c["offer_id"]), c["user_name"], c["created_at"]), []).append(c)
    for (offer_id, user, at), rows in groups.items():
        changes = [
            {
                "id": r["id"], "action": r["action"], "item_position": r["item_position"],
                "field": r["field"], "before": _json(r["before"]), "after": _json(r["after"]),
                "comment": r["comment"],
            }
            for r in rows
        ]  # fmt: skip
        first = int(rows[0]["id"])
        ev = Event(f"co-{db_id}-{first}", OFFER_CORRECTED, offer_id, at,
                   {"user": user, "corrections": changes})  # fmt: skip
        events.append((at, first, ev))
    ca_from = _cursor(con, "catalogue_changes")
    cas = catalogue_read.changes_after(con, ca_from)
    for c in cas:
        ev = Event(f"ca-{db_id}-{c['id']}", CATALOGUE_CHANGED, int(c["offer_id"]),
                   c["occurred_at"], {"change": catalogue_read.change_json(c)})  # fmt: skip
        events.append((c["occurred_at"], int(c["id"]), ev))
    events.sort(key=lambda e: (e[0], e[1]))
    tr_to = max([tr_from, *(int(t["id"]) for t in trs)])
    co_to = max([co_from, *(int(c["id"]) for c in cos)])
    ca_to = max([ca_from, *(int(c["id"]) for c in cas)])
    moved = {"offer_transitions": (tr_from, tr_to), "corrections": (co_from, co_to),
             "catalogue_changes": (ca_from, ca_to)}  # fmt: skip
    return [e for _, _, e in events], moved


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def dispatch(db: Database, hooks: Sequence[WebhookSettings]) -> dict[str, int]:
    """Fan the events past the cursor out into ``webhook_deliveries`` (one row per event and
    subscribed hook) and move the cursor, in one transaction; returns new rows per hook.

    Idempotent: a delivery that exists is left alone (UNIQUE (event_id, hook)). With no hooks
    configured the cursor still moves, so a hook added later starts from that point."""
    created: dict[str, int] = {}
    now = utcnow()
    with db.transaction() as con:
        events, moved = _new_events(con)
        for ev in events:
            subscribed = [h for h in hooks if ev.event in h.events]
            if not subscribed:
                continue
            try:
                offer: dict[str, Any] | None = queries.get_offer(db, ev.offer_id, detail=False)
            except NotFound:
                offer = None
            payload = {
                "id": ev.event_id,
                "event": ev.event,
                "occurred_at": iso_utc(ev.occurred_at),
                "offer": offer,
                **ev.extra,
            }
            body = _body(payload)
            for h in subscribed:
                row = con.execute(
                    "INSERT INTO webhook_deliveries (event_id, hook, event, offer_id, payload,"
                    " state, attempts, next_attempt_at, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                    [ev.event_id, h.name, ev.event, ev.offer_id, body, PENDING, now, now, now],
                ).fetchone()
                if row is not None:
                    created[h.name] = created.get(h.name, 0) + 1
        for source, (old, new) in moved.items():
            if new != old:  # no write at all on an idle pass
                con.execute("UPDATE webhook_cursor SET last_id = ? WHERE source = ?", [new, source])
    return created


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One delivery row as the sender needs it."""

    id: int
    event_id: str
    hook: str
    event: str
    body: bytes
    attempts: int


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt gave: the status (None when no response) and the error text."""

    status: int | None
    error: str | None
    duration_ms: float


def next_due(db: Database, hook: str, now: dt.datetime | None = None) -> Delivery | float | None:
    """The hook's oldest waiting delivery if it is due; else the seconds until it is, or None
    when nothing waits. Only the oldest is considered: one hook's events go out in order."""
    now = now or utcnow()
    rows = db.query(
        "SELECT id, event_id, hook, event, payload, attempts, next_attempt_at"
        " FROM webhook_deliveries WHERE hook = ? AND state IN ('pending', 'retrying')"
        " ORDER BY id LIMIT 1",
        [hook],
    )
    if not rows:
        return None
    r = rows[0]
    due = r["next_attempt_at"]
    if due is not None and due > now:
        return (due - now).total_seconds()
    return Delivery(int(r["id"]), r["event_id"], r["hook"], r["event"],
                    str(r["payload"]).encode(), int(r["attempts"]))  # fmt: skip


def post(client: httpx.Client, hook: WebhookSettings, secret: str, d: Delivery) -> AttemptResult:
    """POST one delivery, signed now; never raises for HTTP or network trouble."""
    ts = int(time.time())
    start = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        r = client.post(hook.url, content=d.body,
                        headers=headers_for(d.event, d.event_id, secret, d.body, ts))  # fmt: skip
        status = r.status_code
        if not r.is_success:
            text = " ".join(r.text.split())[:_ERROR_CHARS]
            error = f"HTTP {status}" + (f": {text}" if text else "")
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
    return AttemptResult(status, error, (time.perf_counter() - start) * 1000.0)


def record_attempt(
    db: Database,
    hook: WebhookSettings,
    delivery_id: int,
    result: AttemptResult,
    *,
    now: dt.datetime | None = None,
    rand: Callable[[], float] = random.random,
) -> str:
    """Record one attempt and the delivery's new state (returned): 2xx → delivered; 410 →
    failed; else retrying after the backoff, or failed when ``max_attempts`` are used up."""
    now = now or utcnow()
    with db.transaction() as con:
        row = con.execute(
            "SELECT state, attempts FROM webhook_deliveries WHERE id = ?", [delivery_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"webhook delivery {delivery_id} does not exist")
        state, attempts = str(row[0]), int(row[1]) + 1
        number = con.execute(
            "SELECT count(*) + 1 FROM webhook_attempts WHERE delivery_id = ?", [delivery_id]
        ).fetchone()
        assert number is not None
        con.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status, error, duration_ms,"
            " attempted_at) VALUES (?, ?, ?, ?, ?, ?)",
            [delivery_id, int(number[0]), result.status, result.error, result.duration_ms, now],
        )
        if state not in WAITING:  # changed meanwhile: keep the attempt, not the verdict
            return state
        next_at: dt.datetime | None = None
        if result.status is not None and 200 <= result.status < 300:
            state = DELIVERED
        elif result.status == 410 or attempts >= hook.max_attempts:
            state = FAILED
        else:
            state = RETRYING
            delay = backoff_s(attempts, hook.min_backoff_s, hook.max_backoff_s, rand)
            next_at = now + dt.timedelta(seconds=delay)
        con.execute(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?,"
            " last_status = ?, last_error = ?, updated_at = ?,"
            " delivered_at = CASE WHEN ? THEN ? ELSE delivered_at END WHERE id = ?",
            [state, attempts, next_at, result.status, result.error, now, state == DELIVERED,
             now, delivery_id],
        )  # fmt: skip
    return state


def send_next(
    db: Database, hook: WebhookSettings, secret: str, client: httpx.Client
) -> float | None:
    """Send the hook's next due delivery, if any. Returns 0 after an attempt (look again at
    once), the seconds until the next one is due, or None when nothing waits."""
    d = next_due(db, hook.name)
    if not isinstance(d, Delivery):
        return d
    result = post(client, hook, secret, d)
    state = record_attempt(db, hook, d.id, result)
    metrics.WEBHOOK_DELIVERIES.labels(hook.name, state).inc()
    if state == DELIVERED:
        log.info("webhook %s: %s delivered (%s)", hook.name, d.event_id, result.status)
    else:
        log.warning("webhook %s: %s %s: %s", hook.name, d.event_id, state, result.error)
    return 0.0


def retry_delivery(db: Database, delivery_id: int) -> dict[str, Any]:
    """An operator's retry: a failed (or retrying) delivery becomes pending now, with a fresh
    round of ``max_attempts``; its earlier attempts stay in the log. ``Conflict`` when it was
    delivered or is already pending."""
    now = utcnow()
    with db.transaction() as con:
        row = con.execute(
            "SELECT state FROM webhook_deliveries WHERE id = ?", [delivery_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"webhook delivery {delivery_id} does not exist")
        if row[0] not in (FAILED, RETRYING):
            raise Conflict(
                f"webhook delivery {delivery_id} is {row[0]}: only failed or retrying ones"
            )
        con.execute(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?,"
            " updated_at = ? WHERE id = ?",
            [now, now, delivery_id],
        )
    return get_delivery(db, delivery_id)


# --- reads for the API ------------------------------------------------------------------------


def _redacted(url: str) -> str:
    try:
        u = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    return str(u.copy_with(username=u.username, password="***")) if u.password else url


def _readiness(h: WebhookSettings) -> dict[str, Any]:
    try:
        secret_of(h)
    except ConfigError as exc:
        return {"ready": False, "error": exc.message}
    return {"ready": True, "error": None}


def waiting_counts(db: Database) -> dict[str, int]:
    """Deliveries waiting (pending or retrying) per hook."""
    rows = db.query(
        "SELECT hook, count(*) AS n FROM webhook_deliveries"
        " WHERE state IN ('pending', 'retrying') GROUP BY hook"
    )
    return {r["hook"]: int(r["n"]) for r in rows}


def list_hooks(db: Database, hooks: Sequence[WebhookSettings]) -> dict[str, Any]:
    """The configured hooks (URL without password) with their deliveries counted by state;
    hooks no longer configured that still have deliveries are listed with ``configured: false``."""
    counts: dict[str, dict[str, int]] = {}
    for r in db.query(
        "SELECT hook, state, count(*) AS n FROM webhook_deliveries GROUP BY hook, state"
    ):
        counts.setdefault(r["hook"], {})[r["state"]] = int(r["n"])

    def by_state(name: str) -> dict[str, int]:
        return {s: counts.get(name, {}).get(s, 0) for s in DELIVERY_STATES}

    items: list[dict[str, Any]] = [
        {
            "name": h.name, "url": _redacted(h.url), "events": list(h.events),
            "timeout_s": h.timeout_s, "max_attempts": h.max_attempts,
            "min_backoff_s": h.min_backoff_s, "max_backoff_s": h.max_backoff_s,
            "verify_tls": h.verify_tls, "configured": True, **_readiness(h),
            "deliveries": by_state(h.name),
        }
        for h in hooks
    ]  # fmt: skip
    names = {h.name for h in hooks}
    items += [
        {"name": n, "configured": False, "deliveries": by_state(n)}
        for n in sorted(counts)
        if n not in names
    ]
    return {"items": items}


def _public(r: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(r)
    out["payload"] = _json(out["payload"])
    for k in ("next_attempt_at", "created_at", "updated_at", "delivered_at"):
        out[k] = iso_utc(out.get(k))
    out["attempt_log"] = [
        {**{k: a[k] for k in ("attempt", "status", "error", "duration_ms")},
         "attempted_at": iso_utc(a["attempted_at"])}
        for a in attempts
    ]  # fmt: skip
    return out


def _attempts(db: Database, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    marks = ", ".join("?" for _ in ids)
    for a in db.query(
        f"SELECT * FROM webhook_attempts WHERE delivery_id IN ({marks}) ORDER BY delivery_id, id",
        list(ids),
    ):
        out[int(a["delivery_id"])].append(a)
    return out


def list_deliveries(
    db: Database,
    *,
    hook: str | None = None,
    state: str | None = None,
    offer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of deliveries, newest first, each with its payload and its attempts."""
    where, params = ["TRUE"], []
    for col, v in (("hook", hook), ("state", state), ("offer_id", offer_id)):
        if v is not None:
            where.append(f"{col} = ?")
            params.append(v)
    cond = " AND ".join(where)
    total = db.scalar(f"SELECT count(*) FROM webhook_deliveries WHERE {cond}", params)
    rows = db.query(
        f"SELECT * FROM webhook_deliveries WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    att = _attempts(db, [int(r["id"]) for r in rows])
    items = [_public(r, att[int(r["id"])]) for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def get_delivery(db: Database, delivery_id: int) -> dict[str, Any]:
    """One delivery with its payload and attempts."""
    rows = db.query("SELECT * FROM webhook_deliveries WHERE id = ?", [delivery_id])
    if not rows:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    return _public(rows[0], _attempts(db, [delivery_id])[delivery_id])


# --- the threads in the server ------------------------------------------------------------------


class _HookSender(threading.Thread):
    def __init__(
        self, db: Database, hook: WebhookSettings, secret: str, stop: threading.Event
    ) -> None:
        super().__init__(name=f"webhook-{hook.name}", daemon=True)
        self.db, self.hook, self.secret, self.stop = db, hook, secret, stop
        self.wake = threading.Event()

    def run(self) -> None:
        with httpx.Client(
            timeout=self.hook.timeout_s, verify=self.hook.verify_tls, follow_redirects=False
        ) as client:
            while not self.stop.is_set():
                try:
                    wait = send_next(self.db, self.hook, self.secret, client)
                except Exception:
                    log.exception("webhook %s: sending failed; trying again", self.hook.name)
                    wait = POLL_S
                if wait == 0.0:
                    continue
                self.wake.wait(POLL_S if wait is None else min(wait, POLL_S))
                self.wake.clear()


class WebhookService:
    """The dispatcher thread and one sender thread per hook, in the process owning the DB.

    The constructor validates the hooks (``ConfigError``: the server does not start). A hook
    whose secret cannot be read gets no sender (logged, and shown by ``GET /api/v1/webhooks``)
    but its deliveries are still written: they go out once the secret is there and the server
    restarts. ``stop`` ends the threads (an attempt in flight finishes or times out)."""

    def __init__(self, db: Database, hooks: Sequence[WebhookSettings]) -> None:
        check_hooks(hooks)
        self.db = db
        self.hooks = list(hooks)
        self.stop_event = threading.Event()
        self.senders: dict[str, _HookSender] = {}
        for h in self.hooks:
            try:
                self.senders[h.name] = _HookSender(db, h, secret_of(h), self.stop_event)
            except ConfigError as exc:
                log.error("%s: its deliveries wait until it is fixed", exc.message)
        self.dispatcher = threading.Thread(
            target=self._dispatch_loop, name="webhook-dispatch", daemon=True
        )

    def tick(self) -> None:
        """One dispatcher pass: fan out new events, wake their senders, update the gauge."""
        created = dispatch(self.db, self.hooks)
        for name in created:
            if name in self.senders:
                self.senders[name].wake.set()
        waiting = waiting_counts(self.db)
        for h in self.hooks:
            metrics.WEBHOOK_PENDING.labels(h.name).set(waiting.get(h.name, 0))

    def _dispatch_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("webhook dispatch failed; trying again")
            self.stop_event.wait(POLL_S)

    def start(self) -> None:
        """Start the dispatcher and the senders."""
        self.dispatcher.start()
        for s in self.senders.values():
            s.start()
        if self.hooks:
            log.info("webhooks: %s", ", ".join(h.name for h in self.hooks))

    def stop(self, timeout: float = 5.0) -> None:
        """Ask every thread to stop and wait up to ``timeout`` seconds for each."""
        self.stop_event.set()
        for s in self.senders.values():
            s.wake.set()
        for t in (self.dispatcher, *self.senders.values()):
            if t.is_alive():
                t.join(timeout)
