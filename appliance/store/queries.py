"""Read side: offers in the contract's shape, mails with their history, counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from appliance.errors import NotFound
from appliance.store.db import Database

_ITEM_COLS = (
    "product_name, sku, brand, quantity, unit, unit_price, currency, total_price, moq,"
    " dim_length, dim_width, dim_height, dim_unit, weight_value, weight_unit, lead_time_days"
)


def _num(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _item(r: dict[str, Any]) -> dict[str, Any]:
    dims = None
    if r["dim_unit"] is not None:
        dims = {
            "length": _num(r["dim_length"]), "width": _num(r["dim_width"]),
            "height": _num(r["dim_height"]), "unit": r["dim_unit"],
        }  # fmt: skip
    weight = None
    if r["weight_unit"] is not None:
        weight = {"value": _num(r["weight_value"]), "unit": r["weight_unit"]}
    return {
        "product_name": r["product_name"], "sku": r["sku"], "brand": r["brand"],
        "quantity": _num(r["quantity"]), "unit": r["unit"], "unit_price": _num(r["unit_price"]),
        "currency": r["currency"], "total_price": _num(r["total_price"]), "moq": _num(r["moq"]),
        "dimensions": dims, "weight": weight, "lead_time_days": r["lead_time_days"],
    }  # fmt: skip


def _pop_error(row: dict[str, Any]) -> dict[str, str] | None:
    """Replace a mail row's error columns by one ``error`` object (or None)."""
    code, message = row.pop("error_code"), row.pop("error_message")
    return {"code": code, "message": message} if code else None


def _offer(db: Database, o: dict[str, Any]) -> dict[str, Any]:
    items = db.query(
        f"SELECT {_ITEM_COLS} FROM offer_items WHERE offer_id = ? ORDER BY position", [o["id"]]
    )
    return {
        "id": o["id"],
        "state": o["state"],
        "source_mail_ids": [o["mail_id"]],
        "model": o["model"],
        "created_at": o["created_at"].isoformat() + "Z",
        "updated_at": o["updated_at"].isoformat() + "Z",
        "supplier": {"name": o["supplier_name"], "email": o["supplier_email"]},
        "items": [_item(i) for i in items],
        "valid_until": o["valid_until"],
        "incoterms": o["incoterms"],
        "payment_terms": o["payment_terms"],
        "language": o["language"],
    }


def list_offers(
    db: Database,
    *,
    supplier: str | None = None,
    state: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of offers, newest first; ``supplier`` matches name or e-mail (case-insensitive)."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if supplier:
        where.append("(supplier_email ILIKE ? OR supplier_name ILIKE ?)")
        params += [f"%{supplier}%", f"%{supplier}%"]
    if state:
        where.append("state = ?")
        params.append(state)
    if since:
        where.append("created_at >= ?")
        params.append(since)
    if until:
        where.append("created_at < ?")
        params.append(until)
    cond = " AND ".join(where)
    total = db.scalar(f"SELECT count(*) FROM offers WHERE {cond}", params)
    rows = db.query(
        f"SELECT * FROM offers WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return {
        "items": [_offer(db, r) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def get_offer(db: Database, offer_id: int) -> dict[str, Any]:
    rows = db.query("SELECT * FROM offers WHERE id = ?", [offer_id])
    if not rows:
        raise NotFound(f"offer {offer_id} does not exist")
    return _offer(db, rows[0])


def get_mail(db: Database, mail_id: int) -> dict[str, Any]:
    """A mail with its keys (sightings), its offer id and its processing events."""
    rows = db.query("SELECT * FROM mails WHERE id = ?", [mail_id])
    if not rows:
        raise NotFound(f"mail {mail_id} does not exist")
    m = rows[0]
    for k in ("attachments", "warnings"):
        m[k] = json.loads(m[k]) if m[k] else []
    for k in ("received_at", "updated_at"):
        m[k] = m[k].isoformat() + "Z"
    m["keys"] = [
        r["key"] for r in db.query("SELECT key FROM mail_keys WHERE mail_id = ?", [mail_id])
    ]
    m["offer_id"] = db.scalar("SELECT id FROM offers WHERE mail_id = ?", [mail_id])
    m["error"] = _pop_error(m)
    m["events"] = [
        {**e, "at": e["at"].isoformat() + "Z"}
        for e in db.query(
            "SELECT stage, outcome, duration_ms, detail, occurred_at AS at FROM events"
            " WHERE mail_id = ? ORDER BY id",
            [mail_id],
        )
    ]
    return m


def counts(db: Database) -> dict[str, Any]:
    """Mails per state and the number of offers (health, metrics, demo)."""
    by_state = {
        r["state"]: r["n"]
        for r in db.query("SELECT state, count(*) AS n FROM mails GROUP BY state")
    }
    return {"mails": by_state, "offers": db.scalar("SELECT count(*) FROM offers")}


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
        r["received_at"] = r["received_at"].isoformat() + "Z"
        items.append(r)
    return {"items": items, "total": total, "limit": limit, "offset": offset}
