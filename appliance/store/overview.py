"""Read side of the dashboard: the overview figures and the review queue.

Times are the DB's naive UTC; "today" starts at 00:00 UTC and "this week" on Monday 00:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from appliance.store.db import Database, iso_utc, utcnow
from appliance.store.offers import AWAITING, NEEDS_REVIEW

# Offers in the queue: needs_review, the one waiting longest first (entered the state first).
_QUEUE_SQL = (
    "SELECT o.id, o.supplier_name, o.supplier_email, o.subject, o.review_reasons,"
    " o.created_at, coalesce(t.entered_at, o.updated_at) AS entered_at,"
    " (SELECT count(*) FROM offer_items i WHERE i.offer_id = o.id) AS n_items"
    " FROM offers o LEFT JOIN (SELECT offer_id, max(occurred_at) AS entered_at"
    " FROM offer_transitions WHERE to_state = ? GROUP BY offer_id) t ON t.offer_id = o.id"
    " WHERE o.state = ? ORDER BY entered_at, o.id"
)


def period_starts(now: dt.datetime) -> dict[str, dt.datetime]:
    """Start of "today" and "this week" (ISO week, Monday) for a naive UTC ``now``."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"today": today, "week": today - dt.timedelta(days=today.weekday())}


def _by_state(db: Database, table: str, column: str, since: dt.datetime) -> dict[str, int]:
    rows = db.query(
        f"SELECT state, count(*) AS n FROM {table} WHERE {column} >= ?"
        " GROUP BY state ORDER BY state",
        [since],
    )
    return {r["state"]: int(r["n"]) for r in rows}


def throughput(db: Database, now: dt.datetime, hours: int = 24) -> list[dict[str, Any]]:
    """Mails received and offers created per hour over the last ``hours`` hours, oldest first
    (every hour present, zero when nothing came)."""
    end = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=hours)
    counts: dict[str, dict[dt.datetime, int]] = {}
    for name, table, col in (("mails", "mails", "received_at"), ("offers", "offers", "created_at")):
        rows = db.query(
            f"SELECT date_trunc('hour', {col}) AS h, count(*) AS n FROM {table}"
            f" WHERE {col} >= ? GROUP BY h",
            [start],
        )
        counts[name] = {r["h"]: int(r["n"]) for r in rows}
    out = []
    for k in range(hours):
        h = start + dt.timedelta(hours=k)
        out.append(
            {
                "hour": iso_utc(h),
                "mails": counts["mails"].get(h, 0),
                "offers": counts["offers"].get(h, 0),
            }
        )
    return out


def overview(db: Database, now: dt.datetime | None = None) -> dict[str, Any]:
    """The dashboard's front page: mails and offers by state today and this week, the review
    queue (size, oldest), clarifications waiting for suppliers, failed mails, and throughput
    per hour over the last 24 hours."""
    now = now or utcnow()
    starts = period_starts(now)
    queue_oldest = db.scalar(
        f"SELECT min(entered_at) FROM ({_QUEUE_SQL})", [NEEDS_REVIEW, NEEDS_REVIEW]
    )
    return {
        "now": iso_utc(now),
        "mails": {p: _by_state(db, "mails", "received_at", s) for p, s in starts.items()},
        "offers": {p: _by_state(db, "offers", "created_at", s) for p, s in starts.items()},
        "offers_total": {
            r["state"]: int(r["n"])
            for r in db.query("SELECT state, count(*) AS n FROM offers GROUP BY state")
        },
        "review_queue": {
            "size": int(db.scalar("SELECT count(*) FROM offers WHERE state = ?", [NEEDS_REVIEW])),
            "oldest_at": iso_utc(queue_oldest),
            "oldest_age_s": (now - queue_oldest).total_seconds() if queue_oldest else None,
        },
        "awaiting_supplier": int(
            db.scalar("SELECT count(*) FROM offers WHERE state = ?", [AWAITING])
        ),
        "failed_mails": int(db.scalar("SELECT count(*) FROM mails WHERE state = 'failed'")),
        "throughput": throughput(db, now),
    }


def review_queue(db: Database, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Offers waiting for a reviewer (needs_review), the one waiting longest first, with
    their review reasons and since when they wait."""
    total = int(db.scalar("SELECT count(*) FROM offers WHERE state = ?", [NEEDS_REVIEW]))
    rows = db.query(f"{_QUEUE_SQL} LIMIT ? OFFSET ?", [NEEDS_REVIEW, NEEDS_REVIEW, limit, offset])
    items = [
        {
            "id": r["id"],
            "supplier": {"name": r["supplier_name"], "email": r["supplier_email"]},
            "subject": r["subject"],
            "review_reasons": json.loads(r["review_reasons"]) if r["review_reasons"] else [],
            "created_at": iso_utc(r["created_at"]),
            "waiting_since": iso_utc(r["entered_at"]),
            "items": int(r["n_items"]),
        }
        for r in rows
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def next_in_queue(db: Database, current: int | None) -> int | None:
    """The offer a reviewer opens after ``current``: the next one in the queue's order (the
    first when ``current`` is not queued, wrapping around at the end), never ``current``."""
    ids = [
        int(r["id"])
        for r in db.query(
            f"SELECT id FROM ({_QUEUE_SQL}) LIMIT 10000", [NEEDS_REVIEW, NEEDS_REVIEW]
        )
    ]
    if current in ids:
        i = ids.index(current)
        ids = ids[i + 1 :] + ids[:i]
    return ids[0] if ids else None


def subjects(db: Database, offer_ids: list[int]) -> dict[int, str | None]:
    """The subject of each offer (of its first mail), for lists."""
    if not offer_ids:
        return {}
    marks = ", ".join("?" for _ in offer_ids)
    rows = db.query(f"SELECT id, subject FROM offers WHERE id IN ({marks})", list(offer_ids))
    return {int(r["id"]): r["subject"] for r in rows}
