"""Change events and anomalies of a new observation against an entry's history.

A change is a move of the price (by more than ``price_change_share``), the MOQ, the lead time
or the currency against the entry's previous observation (from another offer). An anomaly is a
value far outside the supplier's own history: a price ``anomaly_factor`` times the last one (or
1/x of it), a currency the supplier never used. Anomalies become review reasons of the offer;
the values stay what the mail says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRICE = "price"
MOQ = "moq"
LEAD_TIME = "lead_time"
CURRENCY = "currency"
KINDS = (PRICE, MOQ, LEAD_TIME, CURRENCY)


@dataclass(frozen=True)
class Terms:
    """The terms one observation states (what change detection compares)."""

    unit_price: float | None
    currency: str | None
    moq: float | None
    lead_time_days: int | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Terms:
        """From an observation row (or an item dict with the same keys)."""
        return cls(row.get("unit_price"), row.get("currency"), row.get("moq"),
                   row.get("lead_time_days"))  # fmt: skip


@dataclass
class Change:
    """What moved between two observations: the kinds and each one's before/after."""

    kinds: list[str] = field(default_factory=list)
    detail: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, kind: str, before: Any, after: Any, **more: Any) -> None:
        self.kinds.append(kind)
        self.detail[kind] = {"before": before, "after": after, **more}


def detect(prev: Terms, new: Terms, price_change_share: float) -> Change | None:
    """The change from ``prev`` to ``new``, or None when nothing moved. A value one side does
    not state is no change (a mail that leaves the MOQ out did not change it)."""
    ch = Change()
    if prev.currency and new.currency and prev.currency != new.currency:
        ch.add(CURRENCY, prev.currency, new.currency)
    same_cur = prev.currency == new.currency or not (prev.currency and new.currency)
    if prev.unit_price is not None and new.unit_price is not None and same_cur:
        base = prev.unit_price
        share = (new.unit_price - base) / base if base else (1.0 if new.unit_price else 0.0)
        if abs(share) > price_change_share:
            ch.add(PRICE, prev.unit_price, new.unit_price, share=round(share, 4))
    elif CURRENCY in ch.kinds and prev.unit_price != new.unit_price:
        ch.add(PRICE, prev.unit_price, new.unit_price)
    if prev.moq is not None and new.moq is not None and prev.moq != new.moq:
        ch.add(MOQ, prev.moq, new.moq)
    lt_prev, lt_new = prev.lead_time_days, new.lead_time_days
    if lt_prev is not None and lt_new is not None and lt_prev != lt_new:
        ch.add(LEAD_TIME, lt_prev, lt_new)
    return ch if ch.kinds else None


def not_told(ch: Change, told: Change | None) -> Change | None:
    """``ch`` without the moves ``told`` (the change the replaced observation of the same item
    already reported) reported the same way; None when nothing new is left."""
    if told is None:
        return ch
    out = Change()
    for kind in ch.kinds:
        if told.detail.get(kind) != ch.detail[kind]:
            out.add(kind, **ch.detail[kind])
    return out if out.kinds else None


def anomalies(
    name: str,
    new: Terms,
    prev: Terms | None,
    supplier_currencies: set[str],
    factor: float,
) -> list[str]:
    """Review reasons for values far outside the supplier's history: the price ``factor`` times
    the entry's last price in the same currency (or below 1/``factor`` of it), or a currency
    the supplier has never quoted in (only once it has quoted in some)."""
    out: list[str] = []
    if new.currency and supplier_currencies and new.currency not in supplier_currencies:
        used = ", ".join(sorted(supplier_currencies))
        out.append(f"catalogue: {name!r} priced in {new.currency}, a currency this supplier"
                   f" never used before ({used})")  # fmt: skip
    if (
        prev is not None and prev.unit_price and new.unit_price is not None
        and (prev.currency == new.currency or not prev.currency or not new.currency)
    ):  # fmt: skip
        ratio = new.unit_price / prev.unit_price
        if ratio >= factor or ratio <= 1.0 / factor:
            out.append(
                f"catalogue: price of {name!r} is {_num(new.unit_price)} {new.currency or ''},"
                f" {ratio:.3g}× the last one ({_num(prev.unit_price)} {prev.currency or ''})"
            )
    return [" ".join(r.split()) for r in out]


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
