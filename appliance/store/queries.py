"""Read side: offers in the contract's shape, mails with their history, counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from appliance.errors import NotFound
from appliance.extract.fields import EXTRA, ITEM_NAMES
from appliance.store import sync
from appliance.store.db import Database, iso_utc
from appliance.store.offers import ITEM_COLUMNS

_ITEM_COLS = ", ".join((*ITEM_COLUMNS, EXTRA))


def _num(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _extra(raw: Any) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def _item(r: dict[str, Any]) -> dict[str, Any]:
    """An item row in the contract's shape (fields in the contract's order, then ``extra``)."""
    out: dict[str, Any] = {name: _num(r.get(name)) for name in ITEM_NAMES}
    out["dimensions"] = None
    if r["dim_unit"] is not None:
        out["dimensions"] = {
            "length": _num(r["dim_length"]), "width": _num(r["dim_width"]),
            "height": _num(r["dim_height"]), "unit": r["dim_unit"],
        }  # fmt: skip
    out["weight"] = None
    if r["weight_unit"] is not None:
        out["weight"] = {"value": _num(r["weight_value"]), "unit": r["weight_unit"]}
    out[EXTRA] = _extra(r[EXTRA])
    return out


def _pop_error(row: dict[str, Any]) -> dict[str, str] | None:
    """Replace a mail row's error columns by one ``error`` object (or None)."""
    code, message = row.pop("error_code"), row.pop("error_message")
    return {"code": code, "message": message} if code else None


def _offer(db: Database, o: dict[str, Any]) -> dict[str, Any]:
    items = db.query(
        f"SELECT {_ITEM_COLS} FROM offer_items WHERE offer_id = ? ORDER BY position", [o["id"]]
    )
    sources = [
        r["mail_id"]
        for r in db.query(
            "SELECT mail_id FROM offer_mails WHERE offer_id = ? AND role IN ('origin', 'reply')"
            " ORDER BY linked_at, mail_id",
            [o["id"]],
        )
    ] or [o["mail_id"]]
    return {
        "id": o["id"],
        "state": o["state"],
        "source_mail_ids": sources,
        "model": o["model"],
        "created_at": iso_utc(o["created_at"]),
        "updated_at": iso_utc(o["updated_at"]),
        "supplier": {"name": o["supplier_name"], "email": o["supplier_email"]},
        "items": [_item(i) for i in items],
        "valid_until": o["valid_until"],
        "incoterms": o["incoterms"],
        "payment_terms": o["payment_terms"],
        "language": o["language"],
        "extra": _extra(o.get(EXTRA)),
        "supplier_id": o.get("supplier_id"),
        "contact": o.get("contact_addr"),
        "reference": o.get("token"),
        "rounds": o.get("rounds") or 0,
        "reminders": o.get("reminders") or 0,
        "next_action_at": iso_utc(o.get("next_action_at")),
        "missing": json.loads(o["missing"]) if o.get("missing") else None,
        "review_reasons": json.loads(o["review_reasons"]) if o.get("review_reasons") else [],
        "reviewed_by": o.get("reviewed_by"),
        "reviewed_at": iso_utc(o.get("reviewed_at")),
    }


def _provenance(db: Database, offer_id: int) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT item_position, field, value, mail_id, source, span_start, span_end, snippet,"
        " is_current, flagged, recorded_at, confidence FROM field_values WHERE offer_id = ?"
        " AND removed_at IS NULL ORDER BY id",
        [offer_id],
    )
    out = []
    for r in rows:
        out.append(
            {
                "item": r["item_position"], "field": r["field"],
                "value": json.loads(r["value"]) if r["value"] is not None else None,
                "mail_id": r["mail_id"], "source": r["source"],
                "span": [r["span_start"], r["span_end"]] if r["span_start"] is not None else None,
                "text": r["snippet"], "current": r["is_current"], "flagged": r["flagged"],
                "recorded_at": iso_utc(r["recorded_at"]), "confidence": r["confidence"],
            }
        )  # fmt: skip
    return out


def list_offers(
    db: Database,
    *,
    supplier: str | None = None,
    state: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 50,
    offset: int = 0,
    q: str | None = None,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
    reviewed: bool | None = None,
) -> dict[str, Any]:
    """A page of offers, newest first, or oldest change first with ``updated_since`` (the
    incremental-sync contract of ``store.sync``); ``supplier`` matches name or e-mail and ``q``
    also the subject and the items' product names, SKUs and brands (case-insensitive)."""
    f = sync.Filters(
        supplier=supplier, state=state, q=q, updated_since=updated_since, after_id=after_id,
        reviewed=reviewed, since=since, until=until,
    )  # fmt: skip
    cond, params = sync.offer_where(f)
    total = db.scalar(f"SELECT count(*) FROM offers o WHERE {cond}", params)
    rows = db.query(
        f"SELECT o.id, o.updated_at FROM offers o WHERE {cond}"
        f" ORDER BY {sync.order_by(f, 'o.updated_at', 'o.id')} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return sync.page(
        [get_offer(db, r["id"], detail=False) for r in rows],
        [(r["updated_at"], r["id"]) for r in rows],
        total=total, limit=limit, offset=offset, f=f,
    )  # fmt: skip


def get_offer(db: Database, offer_id: int, *, detail: bool = True) -> dict[str, Any]:
    """One offer in the contract's shape plus its dialogue; with ``detail``, also the
    provenance of every value (current and replaced), the thread, the state history and the
    automatic e-mails (sent and suppressed)."""
    rows = db.query("SELECT * FROM offers WHERE id = ?", [offer_id])
    if not rows:
        raise NotFound(f"offer {offer_id} does not exist")
    out = _offer(db, rows[0])
    if not detail:
        return out
    out["provenance"] = _provenance(db, offer_id)
    # Field path → the model's confidence in the current value ("items[0].unit_price").
    out["confidence"] = {
        (f"items[{p['item']}].{p['field']}" if p["item"] is not None else p["field"]):
        p["confidence"]
        for p in out["provenance"]
        if p["current"] and p["confidence"] is not None
    }  # fmt: skip
    out["thread"] = [
        {**r, "linked_at": iso_utc(r["linked_at"])}
        for r in db.query(
            "SELECT om.mail_id, om.role, om.message_id, m.from_addr, m.subject, om.linked_at"
            " FROM offer_mails om JOIN mails m ON m.id = om.mail_id WHERE om.offer_id = ?"
            " ORDER BY om.linked_at, om.mail_id",
            [offer_id],
        )
    ]
    out["history"] = [
        {**r, "at": iso_utc(r["at"])}
        for r in db.query(
            "SELECT from_state, to_state, actor, reason, mail_id, occurred_at AS at"
            " FROM offer_transitions WHERE offer_id = ? ORDER BY id",
            [offer_id],
        )
    ]
    out["emails"] = [
        {**r, "created_at": iso_utc(r["created_at"]), "sent_at": iso_utc(r["sent_at"])}
        for r in db.query(
            "SELECT id, kind, round, to_addr, subject, message_id, state, reason, error,"
            " created_at, sent_at FROM outbox WHERE offer_id = ? ORDER BY id",
            [offer_id],
        )
    ]
    return out


def get_mail(db: Database, mail_id: int) -> dict[str, Any]:
    """A mail with its keys (sightings), its offer id and its processing events."""
    rows = db.query("SELECT * FROM mails WHERE id = ?", [mail_id])
    if not rows:
        raise NotFound(f"mail {mail_id} does not exist")
    m = rows[0]
    for k in ("attachments", "warnings"):
        m[k] = json.loads(m[k]) if m[k] else []
    for k in ("received_at", "updated_at"):
        m[k] = iso_utc(m[k])
    m["keys"] = [
        r["key"] for r in db.query("SELECT key FROM mail_keys WHERE mail_id = ?", [mail_id])
    ]
    m["offer_id"] = db.scalar("SELECT id FROM offers WHERE mail_id = ?", [mail_id])
    m["error"] = _pop_error(m)
    m["events"] = [
        {**e, "at": iso_utc(e["at"])}
        for e in db.query(
            "SELECT stage, outcome, duration_ms, detail, occurred_at AS at FROM events"
            " WHERE mail_id = ? ORDER BY id",
            [mail_id],
        )
    ]
    return m


def counts(db: Database) -> dict[str, Any]:
    """Mails, offers and outbox e-mails per state (health, metrics, demo)."""
    by_state = {
        r["state"]: r["n"]
        for r in db.query("SELECT state, count(*) AS n FROM mails GROUP BY state")
    }
    offers = {
        r["state"]: r["n"]
        for r in db.query("SELECT state, count(*) AS n FROM offers GROUP BY state")
    }
    emails = {
        r["state"]: r["n"]
        for r in db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")
    }
    return {
        "mails": by_state, "offers": sum(offers.values()), "offers_by_state": offers,
        "outbox": emails,
    }  # fmt: skip


def list_mails(
    db: Database, *, state: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """A page of mails, newest first, optionally of one state (e.g. ``failed``)."""
    cond, params = ("state = ?", [state]) if state else ("TRUE", [])
    total = db.scalar(f"SELECT count(*) FROM mails WHERE {cond}", params)
    rows = db.query(
        "SELECT id, account, message_id, subject, from_addr, state, error_code, error_message,"
        f" attempts, received_at FROM mails WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    items = []
    for r in rows:
        r["error"] = _pop_error(r)
        r["received_at"] = iso_utc(r["received_at"])
        items.append(r)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def list_items(
    db: Database, f: sync.Filters | None = None, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """A page of items across offers, each with its offer's id, state, supplier and
    ``updated_at``; newest offer first, or oldest change first with ``updated_since`` (the
    incremental-sync contract of ``store.sync``, ``after_id`` being the item id)."""
    f = f or sync.Filters()
    cond, params = sync.item_where(f)
    base = f"FROM offer_items i JOIN offers o ON o.id = i.offer_id WHERE {cond}"
    total = db.scalar(f"SELECT count(*) {base}", params)
    order = "o.updated_at, i.id" if f.updated_since is not None else "o.id DESC, i.position"
    cols = ", ".join(f"i.{c.strip()}" for c in _ITEM_COLS.split(","))
    rows = db.query(
        "SELECT i.id, i.offer_id, i.position, o.state AS offer_state, o.supplier_id,"
        f" o.supplier_name, o.supplier_email, o.updated_at, {cols}"
        f" {base} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    items = []
    for r in rows:
        head = {"id": r["id"], "offer_id": r["offer_id"], "position": r["position"],
                "offer_state": r["offer_state"], "supplier_id": r["supplier_id"]}  # fmt: skip
        supplier = {"name": r["supplier_name"], "email": r["supplier_email"]}
        items.append(
            {**head, "supplier": supplier, "updated_at": iso_utc(r["updated_at"]), **_item(r)}
        )
    keys = [(r["updated_at"], r["id"]) for r in rows]
    return sync.page(items, keys, total=total, limit=limit, offset=offset, f=f)
