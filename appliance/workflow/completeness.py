"""Completeness rules: is an offer complete, incomplete (what is missing, per item) or doubtful?

Rules come from ``[dialogue.completeness]`` with per-supplier overrides. An item field may be a
choice (``"quantity|moq"``: either will do); a category rule adds fields to items whose
product name contains one of its keywords (``dimensions`` for furniture). A configured extra
field is named by its key, ``extra.<name>`` (a required one is in the default rules already,
see ``settings``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from appliance.extract.fields import get_value
from appliance.settings import CategoryRule, DialogueSettings
from appliance.store.suppliers import Supplier

# Total price and quantity × unit price may differ by this share before they conflict.
_TOTAL_TOLERANCE = 0.01


@dataclass(frozen=True)
class Rules:
    offer_fields: list[str]
    item_fields: list[str]
    categories: list[CategoryRule]


@dataclass(frozen=True)
class Completeness:
    status: Literal["complete", "incomplete", "doubtful"]
    # Item position → field keys still missing, in the order of the rules.
    missing_items: dict[int, list[str]] = field(default_factory=dict)
    missing_offer: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "items": {str(k): v for k, v in self.missing_items.items()},
            "offer": self.missing_offer,
        }


def rules_for(settings: DialogueSettings, supplier: Supplier | None) -> Rules:
    """The rules that apply to one supplier's offers."""
    c = settings.completeness
    offer_fields = c.offer_fields
    item_fields = c.item_fields
    if supplier is not None:
        offer_fields = supplier.offer_fields if supplier.offer_fields is not None else offer_fields
        item_fields = supplier.item_fields if supplier.item_fields is not None else item_fields
    return Rules(list(offer_fields), list(item_fields), list(c.categories))


def _filled(item: dict[str, Any], name: str) -> bool:
    v = get_value(item, name)
    if name == "dimensions":
        return isinstance(v, dict) and any(v.get(a) is not None for a in ("length", "width"))
    return v is not None and v != ""


def item_requirements(item: dict[str, Any], rules: Rules) -> list[str]:
    """The fields one item needs: the base rules plus those of its categories."""
    need = list(rules.item_fields)
    name = (item.get("product_name") or "").casefold()
    for cat in rules.categories:
        if any(k.casefold() in name for k in cat.keywords):
            need += [f for f in cat.item_fields if f not in need]
    return need


def conflicts(offer: dict[str, Any]) -> list[str]:
    """Values of one record that contradict each other."""
    out: list[str] = []
    for pos, item in enumerate(offer.get("items") or []):
        q, p, t = item.get("quantity"), item.get("unit_price"), item.get("total_price")
        if q and p and t and abs(q * p - t) > _TOTAL_TOLERANCE * max(t, q * p):
            out.append(
                f"item {pos + 1}: total price {t:g} is not quantity {q:g} × unit price {p:g}"
            )
        moq = item.get("moq")
        if q is not None and moq is not None and q < moq:
            out.append(f"item {pos + 1}: quantity {q:g} is below the minimum order {moq:g}")
    return out


def show_value(v: Any) -> str:
    """A value as a review reason shows it: ``12.5``, ``50``, ``"Steel bolt"``."""
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, int | float):
        return f"{v:g}"
    return json.dumps(v, ensure_ascii=False)


def low_confidence(
    values: list[tuple[int | None, str, Any, float]], min_confidence: float
) -> list[str]:
    """Review reasons for model-read values below ``min_confidence``; ``values`` are
    (item position, field, value, confidence), as ``store.offers.model_confidences`` gives.

    ``low confidence: items[0].unit_price = 12.5 (0.31 < 0.50)``
    """
    out: list[str] = []
    for pos, name, value, conf in values:
        if conf < min_confidence:
            path = f"items[{pos}].{name}" if pos is not None else name
            shown = math.floor(conf * 100) / 100  # 0.499 reads 0.49, never "0.50 < 0.50"
            out.append(
                f"low confidence: {path} = {show_value(value)} ({shown:.2f} < {min_confidence:.2f})"
            )
    return out


def not_in_mail(unfound: dict[str, Any]) -> list[str]:
    """Review reasons for values the model gave that the mail does not contain (path →
    value, as ``ExtractionOutcome.unfound``): ``not in the mail: items[0].moq = 50``."""
    return [f"not in the mail: {path} = {show_value(v)}" for path, v in unfound.items()]


def evaluate(offer: dict[str, Any], rules: Rules, doubts: list[str] | None = None) -> Completeness:
    """Judge one offer record (contract shape) against the rules.

    ``doubts`` are reasons found elsewhere (a supplier changed a value, a thread sender
    mismatch); together with the record's own conflicts they make it doubtful.
    """
    all_doubts = [*(doubts or []), *conflicts(offer)]
    missing_items: dict[int, list[str]] = {}
    for pos, item in enumerate(offer.get("items") or []):
        miss = [
            req
            for req in item_requirements(item, rules)
            if not any(_filled(item, alt) for alt in req.split("|"))
        ]
        if miss:
            missing_items[pos] = miss
    missing_offer = [f for f in rules.offer_fields if get_value(offer, f) in (None, "")]
    if all_doubts:
        status: Literal["complete", "incomplete", "doubtful"] = "doubtful"
    elif missing_items or missing_offer:
        status = "incomplete"
    else:
        status = "complete"
    return Completeness(status, missing_items, missing_offer, all_doubts)
