"""The supplier catalogue's export selections (written by ``store.export``): ``catalogue``
(one row per entry with its current terms and group) and ``catalogue-history`` (every
observation, replaced ones with ``is_current`` false). ``updated_since``: entries changed, or
observations recorded, after it."""

from __future__ import annotations

from typing import Any

from appliance.store import sync
from appliance.store.catalogue_read import CURRENT, today

KINDS = ("catalogue", "catalogue-history")


def select(kind: str, f: sync.Filters) -> tuple[str, list[Any]]:
    """The SQL and parameters of one catalogue export."""
    if kind == "catalogue":
        cond, params = sync.changed_after("e.updated_at", "e.id", f.updated_since, f.after_id)
        return (
            "SELECT e.id AS entry_id, e.supplier_id, s.name AS supplier, e.name, e.sku, e.brand,"
            " e.group_id, g.name AS group_name, c.unit_price, c.currency, c.unit, c.moq,"
            " c.lead_time_days, c.valid_until, c.incoterms, c.payment_terms, c.observed_at,"
            " c.offer_id, c.mail_id, c.id AS observation_id, e.created_at, e.updated_at"
            " FROM catalogue_entries e LEFT JOIN suppliers s ON s.id = e.supplier_id"
            " LEFT JOIN product_groups g ON g.id = e.group_id"
            f" LEFT JOIN ({CURRENT.format(where='')}) c ON c.entry_id = e.id"
            f" WHERE e.merged_into IS NULL AND {cond} ORDER BY e.id",
            [today(), *params],
        )
    cond, params = sync.changed_after("o.created_at", "o.id", f.updated_since, f.after_id)
    return (
        "SELECT o.id AS observation_id, o.entry_id, e.name AS entry_name, o.supplier_id,"
        " s.name AS supplier, o.offer_id, o.item_position, o.mail_id, o.observed_at,"
        " o.product_name, o.sku, o.brand, o.quantity, o.unit, o.unit_price, o.currency, o.moq,"
        " o.lead_time_days, o.valid_until, o.incoterms, o.payment_terms, o.match_reason,"
        " CAST(o.anomalies AS VARCHAR) AS anomalies, o.is_current, o.created_at"
        " FROM catalogue_observations o JOIN catalogue_entries e ON e.id = o.entry_id"
        f" LEFT JOIN suppliers s ON s.id = o.supplier_id WHERE {cond} ORDER BY o.id",
        params,
    )
