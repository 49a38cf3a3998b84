"""Stored exchange rates (``currency_rates``): what the comparison converts with."""

from __future__ import annotations

from collections.abc import Sequence

from appliance.catalogue.compare import Rate
from appliance.store.db import Database, utcnow


def set_rates(db: Database, rates: Sequence[Rate], base: str) -> int:
    """Insert or replace rates into ``base`` (one row per currency); returns how many."""
    now = utcnow()
    with db.transaction() as con:
        for r in rates:
            con.execute(
                "INSERT INTO currency_rates VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (currency, base)"
                " DO UPDATE SET rate = excluded.rate, as_of = excluded.as_of,"
                " source = excluded.source, updated_at = excluded.updated_at",
                [r.currency, base.upper(), r.rate, r.as_of, r.source, now],
            )
    return len(rates)


def get_rates(db: Database, base: str) -> dict[str, Rate]:
    """The rates into ``base`` by currency."""
    rows = db.query(
        "SELECT currency, rate, as_of, source FROM currency_rates WHERE base = ? ORDER BY currency",
        [base.upper()],
    )
    return {
        r["currency"]: Rate(r["currency"], float(r["rate"]), r["as_of"], r["source"]) for r in rows
    }
