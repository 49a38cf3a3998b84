"""Grounded choice: a per-mail JSON schema whose values can only be what the mail states.

The readers (``extract.readers``) find typed candidates with spans; ``layout`` finds the spans
that may name a product. ``build`` turns them into one schema for this mail in which every
value is an ``enum`` of strings copied from the mail (``"12.40 EUR"``, ``"500 boxes"``,
``"2 weeks"``, ``"Galvanized nails 3.1x90 mm"``), so the model chooses; it cannot write a value
the mail does not contain. A field with no candidate is not in the schema at all, so an
unstated MOQ, weight or lead time cannot be produced. Keys are one letter (``KEYS``) and every
key but the name is optional: the output is short, and what is unstated costs nothing.

``decode`` maps the chosen strings back to the typed values of their candidates and to the
contract's field names; the currency comes with the chosen price (or is the mail's only
currency), the unit with the chosen quantity (or the price's "per" unit). ``share_facts``
then applies what the mail states once for all its items (one lead time, one currency; in a
one-item offer, its only MOQ, dimensions, weight, labelled code or brand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from appliance.extract import layout
from appliance.extract.readers import read
from appliance.extract.readers.types import (
    Candidates,
    Code,
    Dimensions,
    LeadTime,
    Money,
    Quantity,
    Span,
    Weight,
)

_PAY_LABEL = re.compile(
    r"^(?:payment(?:\s+terms?)?|terms(?:\s+of\s+payment)?|условия\s+оплаты|оплата)\s*[:\-–]?\s+",
    re.IGNORECASE,
)
# Compact key → contract field of an item.
KEYS: dict[str, str] = {
    "n": "product_name", "k": "sku", "b": "brand", "q": "quantity", "p": "unit_price",
    "t": "total_price", "m": "moq", "d": "dimensions", "w": "weight", "l": "lead_time_days",
}  # fmt: skip
FIELD_KEYS = {v: k for k, v in KEYS.items()}
MAX_OPTIONS = 64
MAX_NAME_OPTIONS = 240
MAX_ITEMS = 24
# Keys whose options mean the mail states something about a product (else no model call).
FACT_KEYS = ("k", "b", "q", "p", "t", "m", "d", "w", "l")


@dataclass
class Grounding:
    """What the model may choose from in one text: per compact key, option text → candidate."""

    cands: Candidates
    options: dict[str, dict[str, Span]] = field(default_factory=dict)
    text: str = ""

    def has_facts(self) -> bool:
        """Whether the text states anything about a product beyond a name."""
        return any(self.options.get(k) for k in FACT_KEYS)


def _add(opts: dict[str, Span], spans: list[Any], limit: int = MAX_OPTIONS) -> None:
    for s in spans:
        text = s.text.strip()
        if text and len(opts) < limit:
            opts.setdefault(text, s)


def build(text: str, subject: str = "", cands: Candidates | None = None) -> Grounding:
    """The options of ``text`` (``subject`` adds name options), from the readers' candidates
    (``cands``, else read now)."""
    cands = cands if cands is not None else read(text)
    g = Grounding(cands, text=text)
    o = g.options = {k: {} for k in KEYS}
    cuts = [m.start for m in cands.money] + [q.start for q in cands.quantities]
    for name in layout.name_options(text, subject, cuts)[:MAX_NAME_OPTIONS]:
        o["n"][name] = Span(-1, -1, name)
    _add(o["k"], cands.codes)
    _add(o["b"], cands.brands)
    _add(o["q"], [q for q in cands.quantities if q.role in ("quantity", "other")])
    _add(o["m"], [q for q in cands.quantities if q.role == "moq"])
    _add(o["p"], [m for m in cands.money if m.role in ("price", "other")])
    _add(o["t"], [m for m in cands.money if m.role == "total"])
    _add(o["d"], cands.dimensions)
    _add(o["w"], cands.weights)
    _add(o["l"], cands.lead_times)
    return g


def item_schema(g: Grounding, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of one item: ``n`` required, each other key optional, every value an
    enum of the mail's strings. ``extra``: more properties (configured fields) to allow."""
    props: dict[str, Any] = {}
    for key in KEYS:
        options = list(g.options.get(key, {}))
        if options:
            props[key] = {"type": "string", "enum": options}
    props.update(extra or {})
    return {"type": "object", "properties": props, "required": ["n"], "additionalProperties": False}


def schema(
    g: Grounding, max_items: int = MAX_ITEMS, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The whole answer's schema: ``{"i": [item, …]}`` with at most ``max_items`` items, and
    at least one when the text prices something or states a minimum order (it offers)."""
    items: dict[str, Any] = {"type": "array", "items": item_schema(g, extra), "maxItems": max_items}
    if g.options.get("p") or g.options.get("m"):
        items["minItems"] = 1
    return {
        "type": "object",
        "properties": {"i": items},
        "required": ["i"],
        "additionalProperties": False,
    }


def _value(key: str, cand: Span) -> Any:
    """The typed contract value of a chosen candidate for compact ``key``."""
    if key == "n":
        return cand.text
    if isinstance(cand, Money):
        return cand.value
    if isinstance(cand, Quantity):
        return cand.value
    if isinstance(cand, LeadTime):
        return cand.days
    if isinstance(cand, Dimensions):
        return {
            "length": cand.length,
            "width": cand.width,
            "height": cand.height,
            "unit": cand.unit,
        }
    if isinstance(cand, Weight):
        return {"value": cand.value, "unit": cand.unit}
    return cand.text.strip()


@dataclass
class Decoded:
    """Contract items decoded from the model's compact answer; for each, its position in the
    answer and the compact key that gave each of its fields (``currency`` comes from ``p``,
    ``unit`` from ``q``: they share its confidence)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)


def decode(data: Any, g: Grounding) -> Decoded:
    """The model's compact answer as contract items (items without a name are skipped)."""
    raw = data.get("i") if isinstance(data, dict) else None
    out = Decoded()
    texts: list[dict[str, str]] = []
    single = single_currency(g.cands)
    for pos, entry in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(entry, dict):
            continue
        item: dict[str, Any] = {}
        src: dict[str, str] = {}
        for key, fname in KEYS.items():
            text = entry.get(key)
            cand = g.options.get(key, {}).get(text) if isinstance(text, str) else None
            if cand is not None:
                item[fname] = _value(key, cand)
                src[fname] = key
        if not item.get("product_name"):
            continue
        for fname in ("unit_price", "total_price"):
            cand = g.options[FIELD_KEYS[fname]].get(entry.get(FIELD_KEYS[fname]) or "")
            if isinstance(cand, Money) and cand.currency and "currency" not in item:
                item["currency"] = cand.currency
                src["currency"] = FIELD_KEYS[fname]
        if "currency" not in item and single and ("unit_price" in item or "total_price" in item):
            item["currency"] = single
        qty = g.options["q"].get(entry.get("q") or "")
        price = g.options["p"].get(entry.get("p") or "")
        if isinstance(qty, Quantity) and qty.unit:
            item["unit"], src["unit"] = qty.unit, "q"
        elif isinstance(price, Money) and price.per:
            item["unit"], src["unit"] = price.per, "p"
        for k, v in entry.items():
            if k not in KEYS:
                item.setdefault("extra", {})[k] = v
        if item in out.items:  # a small model repeats items
            continue
        out.items.append(item)
        out.origins.append(pos)
        out.sources.append(src)
        texts.append({k: v for k, v in entry.items() if k in KEYS and isinstance(v, str)})
    _localise(out, texts, g.text)
    return out


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos)


def _localise(out: Decoded, texts: list[dict[str, str]], text: str) -> None:
    """In a multi-item answer, drop a fact that the text states only on lines naming another
    item (the desk's "160x80 cm" is not the chair's): each item owns the line of its name."""
    if len(out.items) < 2 or not text:
        return
    owner: dict[int, int] = {}
    for i, t in enumerate(texts):
        pos = text.find(t.get("n", "\0"))
        if pos >= 0:
            owner.setdefault(_line_of(text, pos), i)
    for i, (item, src, t) in enumerate(zip(out.items, out.sources, texts, strict=True)):
        for key in set(src.values()):
            if key == "n" or key not in t:
                continue
            lines_of = set()
            start = text.find(t[key])
            while start >= 0:
                lines_of.add(_line_of(text, start))
                start = text.find(t[key], start + 1)
            if lines_of and all(owner.get(ln, i) != i for ln in lines_of):
                for f in [f for f, k in src.items() if k == key]:
                    item.pop(f, None)
                    src.pop(f, None)


def single_currency(cands: Candidates) -> str | None:
    """The mail's currency when it names exactly one (in amounts or anywhere), else None."""
    found = {m.currency for m in cands.money if m.currency} | set(cands.currencies)
    return found.pop() if len(found) == 1 else None


def _only(spans: list[Any]) -> Any:
    """The one distinct value among ``spans`` (by text), or None."""
    texts = {s.text.strip() for s in spans}
    return spans[0] if len(texts) == 1 else None


def share_facts(items: list[dict[str, Any]], cands: Candidates) -> list[str]:
    """Fill what the mail states once for all its items; return the filled paths.

    Every item: the mail's only lead time, its only currency (for an item with a price).
    A one-item offer also: its only MOQ, dimensions, weight, labelled code and labelled brand.
    """
    filled: list[str] = []

    def fill(i: int, fname: str, value: Any) -> None:
        if value is not None and items[i].get(fname) in (None, ""):
            items[i][fname] = value
            filled.append(f"items[{i}].{fname}")

    lead = _only(cands.lead_times)
    single = single_currency(cands)
    for i, item in enumerate(items):
        if lead is not None:
            fill(i, "lead_time_days", lead.days)
        if "unit_price" in item or "total_price" in item:
            fill(i, "currency", single)
    if len(items) == 1:
        moq = _only([q for q in cands.quantities if q.role == "moq"])
        if moq is not None:
            fill(0, "moq", moq.value)
        if (dims := _only(cands.dimensions)) is not None:
            fill(0, "dimensions", _value("d", dims))
        if (weight := _only(cands.weights)) is not None:
            fill(0, "weight", _value("w", weight))
        code = _only([c for c in cands.codes if isinstance(c, Code) and c.labelled])
        if code is not None:
            fill(0, "sku", code.text.strip())
        brand = _only([b for b in cands.brands if b.labelled])
        if brand is not None:
            fill(0, "brand", brand.text.strip())
    return filled


def offer_terms(cands: Candidates) -> dict[str, Any]:
    """Offer-level terms the readers state: ``valid_until`` (a date the text calls the
    validity), ``incoterms`` (rule and place as written), ``payment_terms`` (as written)."""
    valid = next((d.iso for d in cands.dates if d.role == "valid_until"), None)
    inco = cands.incoterms[0].text.strip() if cands.incoterms else None
    pay = cands.payment_terms[0].text.strip() if cands.payment_terms else None
    if pay:  # the label is not the terms: "Payment 30 days net" states "30 days net"
        pay = _PAY_LABEL.sub("", pay).strip() or pay
    return {"valid_until": valid, "incoterms": inco, "payment_terms": pay}


def confidence_paths(conf: dict[str, float], decoded: Decoded, offset: int = 0) -> dict[str, float]:
    """The model's confidences (paths of its compact JSON, ``i[0].p``) as contract paths
    (``items[0].unit_price``, items numbered from ``offset``); a derived field (currency,
    unit) takes its source's."""
    out: dict[str, float] = {}
    by_item: dict[int, dict[str, float]] = {}
    for path, c in conf.items():
        if not path.startswith("i["):
            continue
        idx, _, key = path[2:].partition("].")
        if idx.isdigit():
            by_item.setdefault(int(idx), {})[key] = c
    for i, (pos, src) in enumerate(zip(decoded.origins, decoded.sources, strict=True)):
        per = by_item.get(pos, {})
        for fname, key in src.items():
            if key in per:
                out[f"items[{offset + i}].{fname}"] = per[key]
    return out
