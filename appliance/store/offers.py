"""Writes of offer records: creation, field values with provenance, thread links, transitions.

All functions take an open transaction (``con``) so that one dialogue step (merge, new state,
outbox rows) commits as one. Every value written keeps its source (mail id + text span); a
value replaced by a later mail stays in ``field_values`` with ``is_current = FALSE``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from appliance.errors import Conflict, NotFound
from appliance.extract.contract import Offer
from appliance.extract.fields import (
    EXTRA,
    EXTRA_PREFIX,
    ITEM_COMPOUNDS,
    ITEM_NAMES,
    ITEM_SCALARS,
    OFFER_VALUES,
    extra_keys,
    get_value,
)
from appliance.messages import Span

Con = duckdb.DuckDBPyConnection

# Offer states (the mail before it is ``received``, see repo.MAIL_STATES).
EXTRACTED = "extracted"
INCOMPLETE = "incomplete"
AWAITING = "awaiting_supplier"
COMPLETE = "complete"
NEEDS_REVIEW = "needs_review"
CLOSED = "closed"
OFFER_STATES = (EXTRACTED, INCOMPLETE, AWAITING, COMPLETE, NEEDS_REVIEW, CLOSED)
OPEN_STATES = (EXTRACTED, INCOMPLETE, AWAITING, NEEDS_REVIEW, COMPLETE)

# Allowed moves; anything else is a bug and raises.
TRANSITIONS: dict[str | None, set[str]] = {
    "received": {EXTRACTED},
    EXTRACTED: {INCOMPLETE, COMPLETE, NEEDS_REVIEW, CLOSED},
    INCOMPLETE: {AWAITING, NEEDS_REVIEW, COMPLETE, CLOSED},
    AWAITING: {INCOMPLETE, AWAITING, COMPLETE, NEEDS_REVIEW, CLOSED},
    COMPLETE: {COMPLETE, NEEDS_REVIEW, INCOMPLETE, CLOSED},  # complete → complete: re-approved
    NEEDS_REVIEW: {COMPLETE, INCOMPLETE, CLOSED},
    CLOSED: set(),
}

# Scalar item fields have a column each; dimensions and weight span several columns; extra
# fields (``extra.<name>``) are keys of the JSON column ``extra`` (of the item or the offer).
# The lists come from the contract (``extract.fields``).
OFFER_SCALARS = OFFER_VALUES
# The columns of each compound item field, and every item column in the contract's order.
COMPOUND_COLUMNS: dict[str, tuple[str, ...]] = {
    "dimensions": ("dim_length", "dim_width", "dim_height", "dim_unit"),
    "weight": ("weight_value", "weight_unit"),
}
ITEM_COLUMNS: tuple[str, ...] = tuple(c for f in ITEM_NAMES for c in COMPOUND_COLUMNS.get(f, (f,)))


@dataclass(frozen=True)
class Provenance:
    """Where a value came from: the mail, the reader (llm, form, user) and the text span."""

    mail_id: int | None
    source: str
    start: int | None = None
    end: int | None = None
    snippet: str | None = None
    # The model's confidence in the value (source "llm" only; ``extract.confidence``).
    confidence: float | None = None

    @classmethod
    def of(
        cls, mail_id: int | None, source: str, span: Span | None, confidence: float | None = None
    ) -> Provenance:
        """Provenance from a located span (or without one, where the text does not show it)."""
        if span is None:
            return cls(mail_id, source, confidence=confidence)
        return cls(mail_id, source, span.start, span.end, span.text, confidence)


def _item_values(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: item.get(k) for k in (*ITEM_SCALARS, *ITEM_COMPOUNDS)}
    out.update((k, get_value(item, k)) for k in extra_keys(item))
    return out


def _set_extra(con: Con, table: str, where: str, params: list[Any], key: str, value: Any) -> None:
    """Set (or, with None, remove) one key of the JSON column ``extra`` of one row."""
    row = con.execute(f"SELECT {EXTRA} FROM {table} WHERE {where}", params).fetchone()
    extra = json.loads(row[0]) if row and row[0] else {}
    name = key.removeprefix(EXTRA_PREFIX)
    if value is None:
        extra.pop(name, None)
    else:
        extra[name] = value
    con.execute(
        f"UPDATE {table} SET {EXTRA} = ? WHERE {where}",
        [json.dumps(extra, ensure_ascii=False) if extra else None, *params],
    )


def _extra_of(raw: Any) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def _item_columns(field: str, value: Any) -> dict[str, Any]:
    if field == "dimensions":
        d = value or {}
        return {
            "dim_length": d.get("length"), "dim_width": d.get("width"),
            "dim_height": d.get("height"), "dim_unit": d.get("unit"),
        }  # fmt: skip
    if field == "weight":
        w = value or {}
        return {"weight_value": w.get("value"), "weight_unit": w.get("unit")}
    return {field: value}


def record_value(
    con: Con,
    offer_id: int,
    position: int | None,
    field: str,
    value: Any,
    prov: Provenance,
    *,
    flagged: bool = False,
    now: dt.datetime,
) -> None:
    """Append a value to the field's history and make it the current one."""
    con.execute(
        "UPDATE field_values SET is_current = FALSE WHERE offer_id = ? AND field = ?"
        " AND item_position IS NOT DISTINCT FROM ? AND is_current",
        [offer_id, field, position],
    )
    con.execute(
        "INSERT INTO field_values (offer_id, item_position, field, value, mail_id, source,"
        " span_start, span_end, snippet, is_current, flagged, recorded_at, confidence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?, ?)",
        [
            offer_id, position, field, json.dumps(value), prov.mail_id, prov.source, prov.start,
            prov.end, prov.snippet, flagged, now, prov.confidence,
        ],
    )  # fmt: skip


def set_item_field(
    con: Con,
    offer_id: int,
    position: int,
    field: str,
    value: Any,
    prov: Provenance,
    *,
    flagged: bool = False,
    now: dt.datetime,
) -> None:
    """Write one item field (columns, or a key of ``extra``, + provenance); the offer's
    ``updated_at`` moves to ``now``."""
    if field.startswith(EXTRA_PREFIX):
        where = "offer_id = ? AND position = ?"
        _set_extra(con, "offer_items", where, [offer_id, position], field, value)
    else:
        cols = _item_columns(field, value)
        assign = ", ".join(f"{c} = ?" for c in cols)
        con.execute(
            f"UPDATE offer_items SET {assign} WHERE offer_id = ? AND position = ?",
            [*cols.values(), offer_id, position],
        )
    con.execute("UPDATE offers SET updated_at = ? WHERE id = ?", [now, offer_id])
    record_value(con, offer_id, position, field, value, prov, flagged=flagged, now=now)


def set_offer_field(
    con: Con, offer_id: int, field: str, value: Any, prov: Provenance, *, now: dt.datetime
) -> None:
    """Write one offer-level field (valid_until, incoterms, payment_terms, an offer-level
    ``extra.<name>``) with provenance."""
    if field.startswith(EXTRA_PREFIX):
        _set_extra(con, "offers", "id = ?", [offer_id], field, value)
        con.execute("UPDATE offers SET updated_at = ? WHERE id = ?", [now, offer_id])
    elif field in OFFER_SCALARS:
        con.execute(
            f"UPDATE offers SET {field} = ?, updated_at = ? WHERE id = ?", [value, now, offer_id]
        )
    else:
        raise ValueError(f"not an offer-level field: {field}")
    record_value(con, offer_id, None, field, value, prov, now=now)


def create_offer(
    con: Con,
    *,
    mail_id: int,
    message_id: str | None,
    offer: Offer,
    model: str | None,
    supplier_id: int | None,
    contact_addr: str | None,
    token: str,
    subject: str,
    provenance: dict[str, Provenance],
    now: dt.datetime,
) -> int:
    """Insert a new offer from its first mail: items, every value with provenance, the thread
    link and the first transition (received → extracted)."""
    row = con.execute(
        "INSERT INTO offers (mail_id, supplier_name, supplier_email, valid_until, incoterms,"
        " payment_terms, language, state, model, created_at, updated_at, supplier_id,"
        " contact_addr, token, subject, rounds, reminders)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0) RETURNING id",
        [
            mail_id, offer.supplier.name, offer.supplier.email, offer.valid_until,
            offer.incoterms, offer.payment_terms, offer.language, EXTRACTED, model, now, now,
            supplier_id, contact_addr, token, subject,
        ],
    ).fetchone()  # fmt: skip
    assert row is not None
    offer_id = int(row[0])
    for pos, item in enumerate(offer.items):
        con.execute(
            "INSERT INTO offer_items (offer_id, position, product_name) VALUES (?, ?, ?)",
            [offer_id, pos, item.product_name],
        )
        for field, value in _item_values(item.model_dump()).items():
            if value is not None:
                prov = provenance.get(f"items[{pos}].{field}", Provenance(mail_id, "llm"))
                set_item_field(con, offer_id, pos, field, value, prov, now=now)
    for field in OFFER_SCALARS:
        value = getattr(offer, field)
        if value is not None:
            prov = provenance.get(field, Provenance(mail_id, "llm"))
            record_value(con, offer_id, None, field, value, prov, now=now)
    for name, value in offer.extra.items():
        if value is not None:
            key = EXTRA_PREFIX + name
            prov = provenance.get(key, Provenance(mail_id, "llm"))
            set_offer_field(con, offer_id, key, value, prov, now=now)
    link_mail(con, offer_id, mail_id, "origin", message_id, now=now)
    transition(con, offer_id, EXTRACTED, actor="extractor", reason=f"extracted from mail {mail_id}",
               mail_id=mail_id, now=now, from_state="received")  # fmt: skip
    return offer_id


def add_item(con: Con, offer_id: int, product_name: str) -> int:
    """Append an item (a reply that offers one more product); returns its position."""
    pos = con.execute(
        "SELECT coalesce(max(position) + 1, 0) FROM offer_items WHERE offer_id = ?", [offer_id]
    ).fetchone()
    assert pos is not None
    con.execute(
        "INSERT INTO offer_items (offer_id, position, product_name) VALUES (?, ?, ?)",
        [offer_id, pos[0], product_name],
    )
    return int(pos[0])


def link_mail(
    con: Con, offer_id: int, mail_id: int, role: str, message_id: str | None, *, now: dt.datetime
) -> None:
    """Add a mail to the offer's thread (idempotent)."""
    con.execute(
        "INSERT INTO offer_mails VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [offer_id, mail_id, role, message_id, now],
    )


def transition(
    con: Con,
    offer_id: int,
    to_state: str,
    *,
    actor: str,
    reason: str,
    mail_id: int | None = None,
    now: dt.datetime,
    from_state: str | None = None,
) -> str:
    """Move an offer to ``to_state`` and record who/what, when and why; returns the old state."""
    if from_state is None:
        row = con.execute("SELECT state FROM offers WHERE id = ?", [offer_id]).fetchone()
        if row is None:
            raise NotFound(f"offer {offer_id} does not exist")
        from_state = str(row[0])
    if to_state not in TRANSITIONS.get(from_state, set()):
        raise Conflict(f"offer {offer_id} is {from_state}: it cannot become {to_state}")
    con.execute(
        "UPDATE offers SET state = ?, updated_at = ? WHERE id = ?", [to_state, now, offer_id]
    )
    con.execute(
        "INSERT INTO offer_transitions (offer_id, from_state, to_state, actor, reason, mail_id,"
        " occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [offer_id, from_state, to_state, actor, reason, mail_id, now],
    )
    return from_state


def load(con: Con, offer_id: int) -> dict[str, Any]:
    """The offer row plus its items (contract shape) for the dialogue's decisions."""
    cur = con.execute("SELECT * FROM offers WHERE id = ?", [offer_id])
    cols = [d[0] for d in cur.description]
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"offer {offer_id} does not exist")
    out = dict(zip(cols, row, strict=True))
    cur = con.execute("SELECT * FROM offer_items WHERE offer_id = ? ORDER BY position", [offer_id])
    cols = [d[0] for d in cur.description]
    items = []
    for r in cur.fetchall():
        d = dict(zip(cols, r, strict=True))
        item = {k: d[k] for k in ITEM_SCALARS}
        item["dimensions"] = (
            {"length": d["dim_length"], "width": d["dim_width"], "height": d["dim_height"],
             "unit": d["dim_unit"]} if d["dim_unit"] else None
        )  # fmt: skip
        item["weight"] = (
            {"value": d["weight_value"], "unit": d["weight_unit"]} if d["weight_unit"] else None
        )
        item[EXTRA] = _extra_of(d[EXTRA])
        items.append(item)
    out["items"] = items
    out[EXTRA] = _extra_of(out[EXTRA])
    for k in ("missing", "review_reasons", "unfound"):
        out[k] = json.loads(out[k]) if out[k] else None
    return out


def model_confidences(con: Con, offer_id: int) -> list[tuple[int | None, str, Any, float]]:
    """(item position, field, value, confidence) of the offer's current values read by the
    model, recorded since its last review (what a person approved is not doubted again)."""
    rows = con.execute(
        "SELECT fv.item_position, fv.field, fv.value, fv.confidence FROM field_values fv"
        " JOIN offers o ON o.id = fv.offer_id WHERE fv.offer_id = ? AND fv.is_current"
        " AND fv.removed_at IS NULL AND fv.source = 'llm' AND fv.confidence IS NOT NULL"
        " AND (o.reviewed_at IS NULL OR fv.recorded_at > o.reviewed_at)"
        " ORDER BY fv.item_position NULLS LAST, fv.id",
        [offer_id],
    ).fetchall()
    return [(r[0], str(r[1]), json.loads(r[2]), float(r[3])) for r in rows]


def thread_offer(con: Con, message_ids: list[str], token: str | None) -> tuple[int, str] | None:
    """The offer a mail answers: by our Message-IDs (or the thread's) in its In-Reply-To /
    References, else by the reference token in its subject. Returns (offer id, how)."""
    ids = [m for m in message_ids if m]
    if ids:
        marks = ", ".join("?" for _ in ids)
        row = con.execute(
            f"SELECT offer_id FROM outbox WHERE message_id IN ({marks}) AND offer_id IS NOT NULL"
            f" UNION ALL SELECT offer_id FROM offer_mails WHERE message_id IN ({marks})"
            " LIMIT 1",
            [*ids, *ids],
        ).fetchone()
        if row:
            return int(row[0]), "references"
    if token:
        row = con.execute("SELECT id FROM offers WHERE token = ?", [token]).fetchone()
        if row:
            return int(row[0]), "subject token"
    return None
