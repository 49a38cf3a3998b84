"""The outbox: one row per automatic e-mail, keyed by an idempotency key.

A row is written before anything is sent, in the same transaction as the offer's new state;
the ``outbox`` queue only delivers what a row holds. States: ``queued`` → ``sent`` (SMTP),
``written`` (dry-run folder), ``failed`` (refused for good), ``uncertain`` (interrupted after
the data went out: never re-sent automatically); ``suppressed`` rows record an e-mail the
policy did not allow, with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from appliance.errors import NotFound
from appliance.store.db import Database, iso_utc, utcnow
from appliance.store.offers import Con

QUEUED = "queued"
SENT = "sent"
WRITTEN = "written"
FAILED = "failed"
UNCERTAIN = "uncertain"
SUPPRESSED = "suppressed"
OUTBOX_STATES = (QUEUED, SENT, WRITTEN, FAILED, UNCERTAIN, SUPPRESSED)
DELIVERED = (SENT, WRITTEN)


@dataclass(frozen=True)
class Delivery:
    """What the outbox actor needs to deliver one row (sent over the ``outbox`` queue)."""

    outbox_id: int
    idem_key: str
    to_addr: str
    message_id: str
    raw: bytes


def add(
    con: Con,
    *,
    idem_key: str,
    offer_id: int | None,
    mail_id: int | None,
    kind: str,
    round_no: int | None,
    to_addr: str | None,
    state: str,
    now: dt.datetime,
    subject: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    language: str | None = None,
    raw: bytes | None = None,
    reason: str | None = None,
) -> tuple[int, bool]:
    """Insert a row unless its idempotency key exists; returns (id, created)."""
    row = con.execute("SELECT id FROM outbox WHERE idem_key = ?", [idem_key]).fetchone()
    if row:
        return int(row[0]), False
    new = con.execute(
        "INSERT INTO outbox (idem_key, offer_id, mail_id, kind, round, to_addr, subject,"
        " message_id, in_reply_to, language, raw, state, reason, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            idem_key, offer_id, mail_id, kind, round_no, to_addr, subject, message_id,
            in_reply_to, language, raw, state, reason, now, now,
        ],
    ).fetchone()  # fmt: skip
    assert new is not None
    return int(new[0]), True


def sent_last_day(con: Con, to_addr: str, now: dt.datetime) -> int:
    """Automatic e-mails to ``to_addr`` queued or delivered in the last 24 hours."""
    row = con.execute(
        "SELECT count(*) FROM outbox WHERE to_addr = ? AND created_at > ?"
        " AND state IN ('queued', 'sent', 'written', 'uncertain')",
        [to_addr, now - dt.timedelta(hours=24)],
    ).fetchone()
    return int(row[0]) if row else 0


def delivery(con: Con, outbox_id: int) -> Delivery:
    row = con.execute(
        "SELECT id, idem_key, to_addr, message_id, raw FROM outbox WHERE id = ?", [outbox_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"outbox row {outbox_id} does not exist")
    return Delivery(int(row[0]), row[1], row[2], row[3], bytes(row[4]))


def record_result(
    db: Database, outbox_id: int, state: str, *, error: str | None = None, detail: str | None = None
) -> str:
    """Record what delivery did (idempotent: a delivered row never goes back); returns the
    stored state."""
    now = utcnow()
    with db.transaction() as con:
        row = con.execute("SELECT state FROM outbox WHERE id = ?", [outbox_id]).fetchone()
        if row is None:
            raise NotFound(f"outbox row {outbox_id} does not exist")
        current = str(row[0])
        if current in DELIVERED or current == SUPPRESSED:
            return current
        if current == UNCERTAIN and state not in DELIVERED:
            return current
        con.execute(
            "UPDATE outbox SET state = ?, error = ?, attempts = attempts + 1, updated_at = ?,"
            " sent_at = CASE WHEN ? THEN ? ELSE sent_at END WHERE id = ?",
            [state, error or detail, now, state in DELIVERED, now, outbox_id],
        )
    return state


def requeue(db: Database, outbox_id: int) -> Delivery:
    """Put a failed or uncertain row back to ``queued`` (an operator's decision to re-send)."""
    with db.transaction() as con:
        row = con.execute("SELECT state FROM outbox WHERE id = ?", [outbox_id]).fetchone()
        if row is None:
            raise NotFound(f"outbox row {outbox_id} does not exist")
        if row[0] not in (FAILED, UNCERTAIN, QUEUED):
            raise ValueError(f"outbox row {outbox_id} is {row[0]}: only failed or uncertain rows")
        con.execute(
            "UPDATE outbox SET state = 'queued', error = NULL, updated_at = ? WHERE id = ?",
            [utcnow(), outbox_id],
        )
        return delivery(con, outbox_id)


def stale_queued(db: Database, older_than_s: float) -> list[Delivery]:
    """Rows still queued after ``older_than_s`` (a lost message); stamped so the next sweep
    waits again."""
    now = utcnow()
    with db.transaction() as con:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT id FROM outbox WHERE state = 'queued' AND updated_at < ? ORDER BY id",
                [now - dt.timedelta(seconds=older_than_s)],
            ).fetchall()
        ]
        for i in ids:
            con.execute("UPDATE outbox SET updated_at = ? WHERE id = ?", [now, i])
        return [delivery(con, i) for i in ids]


def _public(r: dict[str, Any]) -> dict[str, Any]:
    raw = r.pop("raw", None)
    r["size"] = len(raw) if raw is not None else 0
    for k in ("created_at", "updated_at", "sent_at"):
        r[k] = iso_utc(r.get(k))
    return r


def list_outbox(
    db: Database,
    *,
    state: str | None = None,
    offer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of outbox rows (without the raw message), newest first."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if state:
        where.append("state = ?")
        params.append(state)
    if offer_id is not None:
        where.append("offer_id = ?")
        params.append(offer_id)
    cond = " AND ".join(where)
    total = db.scalar(f"SELECT count(*) FROM outbox WHERE {cond}", params)
    rows = db.query(
        f"SELECT * FROM outbox WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return {"items": [_public(r) for r in rows], "total": total, "limit": limit, "offset": offset}


def get_outbox(db: Database, outbox_id: int) -> dict[str, Any]:
    """One row with its raw message as text (what was, or would be, sent)."""
    rows = db.query("SELECT * FROM outbox WHERE id = ?", [outbox_id])
    if not rows:
        raise NotFound(f"outbox row {outbox_id} does not exist")
    raw = rows[0].get("raw")
    out = _public(rows[0])
    out["message"] = bytes(raw).decode("utf-8", "replace") if raw is not None else None
    return out
