"""Every supplier's current terms for one product group, side by side, with the price
normalised to one unit (``units``) and one currency (the admin's rates, with their date).

No rate, no conversion: the row keeps its own price and says which rate is missing. A unit
that cannot be told (a box of unknown size) or is of another kind than the group's (kg against
pieces) is said so too; such rows sort last.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from appliance.catalogue.units import PriceUnit, per_base, price_unit

SORT_KEYS = ("price", "supplier", "lead_time", "moq", "valid_until", "observed")


@dataclass(frozen=True)
class Rate:
    """1 unit of ``currency`` = ``rate`` units of the base currency, as of ``as_of``."""

    currency: str
    rate: float
    as_of: dt.date
    source: str


@dataclass
class CompareRow:
    """One supplier's current terms in a comparison, with the normalised price and notes."""

    entry_id: int
    supplier_id: int
    supplier: str
    product_name: str
    sku: str | None
    brand: str | None
    unit_price: float | None
    currency: str | None
    unit: str | None
    moq: float | None
    lead_time_days: int | None
    valid_until: str | None
    incoterms: str | None
    payment_terms: str | None
    offer_id: int
    mail_id: int | None
    observed_at: dt.datetime
    expired: bool
    price_unit: str | None = None  # how the unit was read ("'box of 100' → 100 piece")
    normalised_price: float | None = None  # per base unit, in the base currency
    normalised_unit: str | None = None  # "EUR per piece"
    rate: dict[str, Any] | None = None  # the rate used: currency, rate, as_of, source
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The row as the API returns it (timestamps ISO UTC)."""
        d = {k: v for k, v in self.__dict__.items()}
        d["observed_at"] = self.observed_at.isoformat() + "Z"
        return d


def _base_of(units: list[PriceUnit | None]) -> str | None:
    """The kind most rows of the group are priced in (piece, kg, m …)."""
    kinds = Counter(u.base for u in units if u is not None)
    return kinds.most_common(1)[0][0] if kinds else None


def compare(
    rows: list[dict[str, Any]], rates: dict[str, Rate], base_currency: str, today: dt.date
) -> list[CompareRow]:
    """The comparison rows of one group from each entry's current observation (dicts with the
    observation's columns plus ``supplier``), normalised where unit and rate allow."""
    out: list[CompareRow] = []
    units = [price_unit(r.get("unit"), r.get("product_name")) for r in rows]
    base = _base_of(units)
    for r, pu in zip(rows, units, strict=True):
        row = CompareRow(
            entry_id=int(r["entry_id"]), supplier_id=int(r["supplier_id"]),
            supplier=str(r.get("supplier") or ""), product_name=str(r["product_name"]),
            sku=r.get("sku"), brand=r.get("brand"), unit_price=r.get("unit_price"),
            currency=r.get("currency"), unit=r.get("unit"), moq=r.get("moq"),
            lead_time_days=r.get("lead_time_days"), valid_until=r.get("valid_until"),
            incoterms=r.get("incoterms"), payment_terms=r.get("payment_terms"),
            offer_id=int(r["offer_id"]), mail_id=r.get("mail_id"),
            observed_at=r["observed_at"], expired=is_expired(r.get("valid_until"), today),
        )  # fmt: skip
        out.append(row)
        if row.expired:
            row.notes.append(f"validity ended {row.valid_until}")
        if row.unit_price is None:
            row.notes.append("no price")
            continue
        if pu is None:
            row.notes.append(f"unit {row.unit!r} cannot be converted" if row.unit else "no unit")
            continue
        row.price_unit = pu.how
        if pu.base != base:
            row.notes.append(f"priced per {pu.base}, the group per {base}: not comparable")
            continue
        price = per_base(row.unit_price, pu)
        cur = (row.currency or "").upper()
        if not cur:
            row.notes.append("no currency")
            continue
        if cur != base_currency.upper():
            rate = rates.get(cur)
            if rate is None:
                row.notes.append(f"no rate {cur}→{base_currency}: not converted")
                continue
            row.rate = {"currency": cur, "rate": rate.rate, "as_of": rate.as_of.isoformat(),
                        "source": rate.source}  # fmt: skip
            price = None if price is None else price * rate.rate
        row.normalised_price = price
        row.normalised_unit = f"{base_currency.upper()} per {base.replace('**2', '²')}"
    return out


def is_expired(valid_until: str | None, today: dt.date) -> bool:
    """Whether a ``YYYY-MM-DD`` validity lies before ``today`` (no or a bad date: no)."""
    if not valid_until:
        return False
    try:
        return dt.date.fromisoformat(valid_until) < today
    except ValueError:
        return False


def sort_rows(rows: list[CompareRow], key: str, descending: bool = False) -> list[CompareRow]:
    """Rows sorted by ``key`` (one of ``SORT_KEYS``); rows without that value come last."""
    if key not in SORT_KEYS:
        key = "price"

    def value(r: CompareRow) -> Any:
        return {
            "price": r.normalised_price, "supplier": r.supplier.casefold(),
            "lead_time": r.lead_time_days, "moq": r.moq, "valid_until": r.valid_until,
            "observed": r.observed_at,
        }[key]  # fmt: skip

    known = [r for r in rows if value(r) is not None]
    unknown = [r for r in rows if value(r) is None]
    known.sort(key=lambda r: (value(r), r.entry_id), reverse=descending)
    return known + unknown
