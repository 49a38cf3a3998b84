"""Reads of the comparison groups: the list of products offered by several suppliers, and one
group's rows (each entry's current terms) for ``catalogue.compare``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from appliance.catalogue.compare import CompareRow, compare, sort_rows
from appliance.errors import NotFound
from appliance.store import catalogue_rates, sync
from appliance.store.catalogue_read import CURRENT, today
from appliance.store.db import Database, iso_utc


def list_groups(
    db: Database,
    *,
    q: str | None = None,
    min_suppliers: int = 1,
    limit: int = 50,
    offset: int = 0,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """Product groups with how many suppliers and entries each holds; ``min_suppliers=2``: the
    products offered by several suppliers. Sync by ``updated_since`` as the other lists."""
    f = sync.Filters(updated_since=updated_since, after_id=after_id)
    cond, params = sync.changed_after("g.updated_at", "g.id", updated_since, after_id)
    where = [cond]
    if q:
        where.append("(g.name ILIKE ? ESCAPE '\\' OR g.sku_key ILIKE ? ESCAPE '\\')")
        params += [sync.like(q)] * 2
    sql = (
        "SELECT g.id, g.name, g.sku_key AS sku, g.created_at, g.updated_at,"
        " count(DISTINCT e.supplier_id) AS suppliers, count(e.id) AS entries"
        " FROM product_groups g JOIN catalogue_entries e ON e.group_id = g.id"
        f" AND e.merged_into IS NULL WHERE {' AND '.join(where)} GROUP BY ALL"
        " HAVING count(DISTINCT e.supplier_id) >= ?"
    )
    params.append(min_suppliers)
    total = int(db.scalar(f"SELECT count(*) FROM ({sql})", params) or 0)
    order = "updated_at, id" if updated_since is not None else "suppliers DESC, name, id"
    found = db.query(f"SELECT * FROM ({sql}) ORDER BY {order} LIMIT ? OFFSET ?",
                     [*params, limit, offset])  # fmt: skip
    keys = [(r["updated_at"], int(r["id"])) for r in found]
    items = [
        {**r, "created_at": iso_utc(r["created_at"]), "updated_at": iso_utc(r["updated_at"])}
        for r in found
    ]
    return sync.page(items, keys, total=total, limit=limit, offset=offset, f=f)


def group_rows(db: Database, group_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The group and each of its entries' current observation (with the supplier's name and
    the entry's grouping reason); ``NotFound`` for an unknown group."""
    found = db.query(
        "SELECT id, name, sku_key AS sku, created_at, updated_at FROM product_groups WHERE id = ?",
        [group_id],
    )
    if not found:
        raise NotFound(f"product group {group_id} does not exist")
    cur = CURRENT.format(
        where=" AND o.entry_id IN (SELECT id FROM catalogue_entries WHERE group_id = ?"
        " AND merged_into IS NULL)"
    )
    rows = db.query(
        f"SELECT c.*, s.name AS supplier, e.group_reason, e.group_source FROM ({cur}) c"
        " JOIN catalogue_entries e ON e.id = c.entry_id LEFT JOIN suppliers s"
        " ON s.id = c.supplier_id",
        [today(), group_id],
    )
    return found[0], rows


def compare_group(
    db: Database, group_id: int, base_currency: str, sort: str = "price", desc: bool = False
) -> dict[str, Any]:
    """One group compared: every supplier's current terms with the price normalised (unit,
    then currency by the stored rates, their date shown), sorted by ``sort``."""
    group, rows = group_rows(db, group_id)
    rates = catalogue_rates.get_rates(db, base_currency)
    reasons = {int(r["entry_id"]): (r["group_reason"], r["group_source"]) for r in rows}
    out: list[CompareRow] = sort_rows(
        compare(rows, rates, base_currency, dt.date.fromisoformat(today())), sort, desc
    )
    items = []
    for r in out:
        reason, source = reasons[r.entry_id]
        items.append({**r.as_json(), "group_reason": reason, "group_source": source})
    return {
        "group": {**group, "created_at": iso_utc(group["created_at"]),
                  "updated_at": iso_utc(group["updated_at"])},
        "base_currency": base_currency.upper(),
        "sort": sort,
        "rows": items,
    }  # fmt: skip
