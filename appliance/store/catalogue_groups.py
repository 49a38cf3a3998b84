"""Comparison groups across suppliers: a new catalogue entry joins the group of its SKU, else
the group whose name is close enough (looked up by the name's longest word), else a new one.

Only new entries are placed automatically; a buyer's decision (``catalogue_review.regroup``)
is never undone by it.
"""

from __future__ import annotations

import datetime as dt

from appliance.catalogue.names import (
    Candidate,
    best_by_name,
    block_of,
    norm_brand,
    norm_name,
    norm_sku,
)
from appliance.settings import CatalogueSettings
from appliance.store.offers import Con


def new_group(con: Con, name: str, sku: str | None, brand: str | None, now: dt.datetime) -> int:
    """A group named after its first product; returns its id."""
    row = con.execute(
        "INSERT INTO product_groups (name, sku_key, name_key, brand_key, block, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [name, norm_sku(sku), norm_name(name), norm_brand(brand) or None, block_of(name), now,
         now],
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def find(
    con: Con, name: str, sku: str | None, brand: str | None, cs: CatalogueSettings
) -> tuple[int, str] | None:
    """The group a product belongs in and why, or None: the same SKU first, else a close name
    (same brand or either without one, no other SKU) among groups sharing the longest word."""
    s = norm_sku(sku)
    if s:
        row = con.execute(
            "SELECT id FROM product_groups WHERE sku_key = ? ORDER BY id LIMIT 1", [s]
        ).fetchone()
        if row:
            return int(row[0]), f"same SKU {s}"
    cands = [
        Candidate(int(r[0]), str(r[1]), r[2], r[3])
        for r in con.execute(
            "SELECT id, name, sku_key, brand_key FROM product_groups WHERE block = ?",
            [block_of(name)],
        ).fetchall()
    ]
    near = best_by_name(name, sku, brand, cands, cs.group_similarity)
    return (near.id, near.reason) if near else None


def assign(
    con: Con,
    entry_id: int,
    name: str,
    sku: str | None,
    brand: str | None,
    cs: CatalogueSettings,
    now: dt.datetime,
) -> int:
    """Put a new entry in its group (``find``, else a new group); returns the group id."""
    found = find(con, name, sku, brand, cs)
    if found is None:
        group, why = new_group(con, name, sku, brand, now), "first of its group"
    else:
        group, why = found
        con.execute(
            "UPDATE product_groups SET updated_at = ?, sku_key = coalesce(sku_key, ?) WHERE id = ?",
            [now, norm_sku(sku), group],
        )
    con.execute(
        "UPDATE catalogue_entries SET group_id = ?, group_source = 'auto', group_reason = ?"
        " WHERE id = ?",
        [group, why, entry_id],
    )
    return group
