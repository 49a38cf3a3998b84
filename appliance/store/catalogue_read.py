"""Reads of the supplier catalogue: entries with their current terms, an entry's history and
changes, comparison groups, the change log (API, dashboard, webhooks, exports).

An entry's current terms are those of its latest valid observation: the newest current one
whose ``valid_until`` has not passed, else the newest current one (shown as expired).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from appliance.errors import NotFound
from appliance.store import sync
from appliance.store.catalogue import rows
from appliance.store.db import Database, iso_utc
from appliance.store.offers import Con

OBS_COLS = (
    "id, entry_id, supplier_id, offer_id, item_position, mail_id, key, observed_at,"
    " product_name, sku, brand, quantity, unit, unit_price, currency, moq, lead_time_days,"
    " valid_until, incoterms, payment_terms, match_reason, anomalies, is_current, created_at"
)
# The current terms of every entry (parameter: today as YYYY-MM-DD).
CURRENT = (
    "SELECT * EXCLUDE (rn) FROM (SELECT o.*, row_number() OVER (PARTITION BY o.entry_id ORDER BY"
    " (o.valid_until IS NULL OR o.valid_until >= ?) DESC, o.observed_at DESC, o.id DESC) AS rn"
    " FROM catalogue_observations o WHERE o.is_current{where}) WHERE rn = 1"
)


def today() -> str:
    """Today's date (UTC) as ``YYYY-MM-DD``, what validities are compared with."""
    return dt.datetime.now(dt.UTC).date().isoformat()


def _obs(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if k not in ("anomalies", "rn")}
    out["anomalies"] = json.loads(r["anomalies"]) if r.get("anomalies") else []
    for k in ("observed_at", "created_at"):
        if isinstance(out.get(k), dt.datetime):
            out[k] = iso_utc(out[k])
    if out.get("valid_until") is not None:
        out["expired"] = str(out["valid_until"]) < today()
    return out


def _entry(r: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    keep = ("id", "supplier_id", "supplier", "name", "sku", "brand", "group_id", "group_source",
            "group_reason", "observations")  # fmt: skip
    out = {k: r.get(k) for k in keep}
    out["created_at"], out["updated_at"] = iso_utc(r["created_at"]), iso_utc(r["updated_at"])
    out["current"] = _obs(current) if current else None
    return out


def list_entries(
    db: Database,
    *,
    supplier_id: int | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """Catalogue entries with their current terms: one supplier's or all, ``q`` in name, SKU or
    brand; incremental sync by ``updated_since`` (+ ``after_id``) as the other lists."""
    f = sync.Filters(updated_since=updated_since, after_id=after_id)
    cond, params = sync.changed_after("e.updated_at", "e.id", updated_since, after_id)
    where = ["e.merged_into IS NULL", cond]
    if supplier_id is not None:
        where.append("e.supplier_id = ?")
        params.append(supplier_id)
    if q:
        where.append("(e.name ILIKE ? ESCAPE '\\' OR e.sku ILIKE ? ESCAPE '\\'"
                     " OR e.brand ILIKE ? ESCAPE '\\')")  # fmt: skip
        params += [sync.like(q)] * 3
    base = f"FROM catalogue_entries e LEFT JOIN suppliers s ON s.id = e.supplier_id WHERE {' AND '.join(where)}"  # noqa: E501
    total = int(db.scalar(f"SELECT count(*) {base}", params) or 0)
    order = "e.updated_at, e.id" if updated_since is not None else "s.name, e.name, e.id"
    found = db.query(
        f"SELECT e.*, s.name AS supplier, (SELECT count(*) FROM catalogue_observations c"
        f" WHERE c.entry_id = e.id) AS observations {base} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    cur = current_of(db, [int(r["id"]) for r in found])
    items = [_entry(r, cur.get(int(r["id"]))) for r in found]
    keys = [(r["updated_at"], int(r["id"])) for r in found]
    return sync.page(items, keys, total=total, limit=limit, offset=offset, f=f)


def current_of(db: Database, entry_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The current observation of each entry."""
    if not entry_ids:
        return {}
    marks = ", ".join("?" * len(entry_ids))
    found = db.query(CURRENT.format(where=f" AND o.entry_id IN ({marks})"), [today(), *entry_ids])
    return {int(r["entry_id"]): r for r in found}


def get_entry(db: Database, entry_id: int) -> dict[str, Any]:
    """One entry: current terms, every observation (newest first, replaced ones with
    ``is_current: false``, each with the reason it was matched), its changes, the keys it is
    found by, and its group."""
    found = db.query(
        "SELECT e.*, s.name AS supplier, (SELECT count(*) FROM catalogue_observations c"
        " WHERE c.entry_id = e.id) AS observations FROM catalogue_entries e"
        " LEFT JOIN suppliers s ON s.id = e.supplier_id WHERE e.id = ?",
        [entry_id],
    )
    if not found:
        raise NotFound(f"catalogue entry {entry_id} does not exist")
    e = found[0]
    if e["merged_into"] is not None:
        raise NotFound(f"catalogue entry {entry_id} was merged into {e['merged_into']}",
                       detail=f"/api/v1/catalogue/{e['merged_into']}")  # fmt: skip
    out = _entry(e, current_of(db, [entry_id]).get(entry_id))
    history = db.query(
        f"SELECT {OBS_COLS} FROM catalogue_observations WHERE entry_id = ?"
        " ORDER BY observed_at DESC, id DESC",
        [entry_id],
    )
    out["history"] = [_obs(r) for r in history]
    out["changes"] = [change_json(c) for c in _changes(db, "c.entry_id = ?", [entry_id], 500)]
    out["keys"] = [
        {**k, "created_at": iso_utc(k["created_at"])}
        for k in db.query(
            "SELECT key, source, reason, created_at FROM catalogue_keys WHERE entry_id = ?"
            " ORDER BY created_at, key",
            [entry_id],
        )
    ]
    group = db.query("SELECT id, name FROM product_groups WHERE id = ?", [e["group_id"]])
    out["group"] = group[0] if group else None
    return out


def _changes(db: Database, cond: str, params: list[Any], limit: int, offset: int = 0,
             order: str = "c.occurred_at DESC, c.id DESC") -> list[dict[str, Any]]:  # fmt: skip
    return db.query(
        "SELECT c.*, e.name AS product_name, s.name AS supplier FROM catalogue_changes c"
        " JOIN catalogue_entries e ON e.id = c.entry_id LEFT JOIN suppliers s"
        f" ON s.id = c.supplier_id WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )


def changes_after(con: Con, last_id: int) -> list[dict[str, Any]]:
    """Change events past ``last_id``, oldest first (the webhook dispatcher's source)."""
    return rows(
        con,
        "SELECT c.*, e.name AS product_name, s.name AS supplier FROM catalogue_changes c"
        " JOIN catalogue_entries e ON e.id = c.entry_id LEFT JOIN suppliers s"
        " ON s.id = c.supplier_id WHERE c.id > ? ORDER BY c.id",
        [last_id],
    )


def change_json(c: dict[str, Any]) -> dict[str, Any]:
    """A change event as the API and the webhook show it."""
    return {
        "id": c["id"], "entry_id": c["entry_id"], "product_name": c.get("product_name"),
        "supplier_id": c["supplier_id"], "supplier": c.get("supplier"),
        "offer_id": c["offer_id"], "observation_id": c["observation_id"],
        "previous_observation_id": c["previous_id"], "kinds": _json(c["kinds"]),
        "detail": _json(c["detail"]), "occurred_at": iso_utc(c["occurred_at"]),
    }  # fmt: skip


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def list_changes(
    db: Database,
    *,
    since: dt.datetime | None = None,
    supplier_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """Change events, newest first: since a time (e.g. a week ago), of one supplier; with
    ``updated_since`` (+ ``after_id``) oldest first with the sync cursor of the other lists."""
    f = sync.Filters(updated_since=updated_since, after_id=after_id)
    cond, params = sync.changed_after("c.occurred_at", "c.id", updated_since, after_id)
    where = [cond]
    if since is not None:
        where.append("c.occurred_at >= ?")
        params.append(since)
    if supplier_id is not None:
        where.append("c.supplier_id = ?")
        params.append(supplier_id)
    text = " AND ".join(where)
    total = int(db.scalar(f"SELECT count(*) FROM catalogue_changes c WHERE {text}", params) or 0)
    order = "c.occurred_at, c.id" if updated_since is not None else "c.occurred_at DESC, c.id DESC"
    found = _changes(db, text, params, limit, offset, order)
    keys = [(c["occurred_at"], int(c["id"])) for c in found]
    items = [change_json(c) for c in found]
    return sync.page(items, keys, total=total, limit=limit, offset=offset, f=f)
