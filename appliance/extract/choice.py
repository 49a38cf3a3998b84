"""The model's answer under a grounded schema (``extract.grounding``), mapped back to the
contract's typed values, and the other way round for training data.

``decode`` turns the chosen strings into the values of their candidates: the currency comes
with the chosen price (or is the mail's only currency), the unit with the chosen quantity (or
the price's "per" unit); a name holding a price gives it to its item; a fact given to several
items belongs to the one whose name stands nearest; an item left without a fact was not an
item; a name holding none of its item's facts gives way to one that does. ``encode`` is the
inverse: the answer the model should give for a labelled offer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from appliance.extract import layout
from appliance.extract.fields import of_level
from appliance.extract.grounding import FIELD_KEYS, KEYS, Grounding, max_items, single_currency
from appliance.extract.readers.types import (
    Dimensions,
    LeadTime,
    Money,
    Quantity,
    Span,
    Weight,
)

_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4, "ft": 304.8}
_TO_G = {"g": 1.0, "kg": 1000.0, "t": 1e6, "lb": 453.59237, "oz": 28.349523125}


def _close(a: Any, b: Any) -> bool:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return abs(x - y) <= max(1e-6, 0.005 * max(abs(x), abs(y)))


def same_value(fname: str, value: Any, gold: Any) -> bool:
    """Whether a candidate's typed value is the label's value of contract field ``fname``."""
    if isinstance(gold, dict) and isinstance(value, dict):
        if fname == "weight":
            gold_g = float(gold.get("value") or 0) * _TO_G.get(str(gold.get("unit")), -1)
            return _close(value["value"] * _TO_G.get(value["unit"], 0), gold_g)
        scale_v, scale_g = _TO_MM.get(value["unit"], 0), _TO_MM.get(gold.get("unit") or "mm", -1)
        axes = [a for a in ("length", "width", "height") if gold.get(a) is not None]
        return bool(axes) and all(
            value.get(a) is not None and _close(value[a] * scale_v, gold[a] * scale_g) for a in axes
        )
    if isinstance(gold, str) and isinstance(value, str):
        return " ".join(value.casefold().split()) == " ".join(gold.casefold().split())
    return not isinstance(gold, dict | str) and _close(value, gold)


def name_overlap(option: str, name: str) -> float:
    a = set(re.findall(r"\w+", option.casefold()))
    b = set(re.findall(r"\w+", name.casefold()))
    if not a or not b:
        return 0.0
    jaccard = len(a & b) / len(a | b)
    if b <= a and len(b) >= 2:  # the option holds the whole name, and maybe more
        return max(jaccard, 0.5 + 0.5 * len(b) / len(a))
    return jaccard


def encode(label: dict[str, Any], g: Grounding) -> dict[str, Any]:
    """The compact answer the model should give for ``label`` (an offer in the contract's
    shape) under ``g``'s schema: the inverse of ``decode``, for training data. Each labelled
    item is named by the name option closest to its product name (an item none names is left
    out), and each stated field by the option whose value it is; a value no option holds
    cannot be written, so it is left out too."""
    entries = []
    for item in label.get("items") or []:
        name = str(item.get("product_name") or "")
        scored = [(name_overlap(opt, name), opt) for opt in g.options.get("n", {})]
        best = max(scored, default=(0.0, ""))
        if best[0] < 0.5:
            continue
        entry: dict[str, Any] = {"n": best[1]}
        for key, fname in KEYS.items():
            gold = item.get(fname)
            if key == "n" or gold is None:
                continue
            for text, cand in g.options.get(key, {}).items():
                if same_value(fname, typed_value(key, cand), gold):
                    entry[key] = text
                    break
        for f in of_level(g.extra_fields, "item"):
            gold = (item.get("extra") or {}).get(f.name)
            hit = next((t for t, v in g.extra.get(f.name, {}).items() if v == gold), None)
            if isinstance(gold, bool):
                entry[f.name] = gold
            elif gold is not None and hit is not None:
                entry[f.name] = hit
        entries.append(entry)
    return {"i": entries[: max_items(g)]}


def _extra_value(g: Grounding, name: str, chosen: Any) -> Any:
    if isinstance(chosen, bool):
        return chosen
    return g.extra.get(name, {}).get(chosen) if isinstance(chosen, str) else None


def offer_extra(data: Any, g: Grounding) -> dict[str, Any]:
    """The offer-level extra values of the model's answer (name → typed value)."""
    out: dict[str, Any] = {}
    for f in of_level(g.extra_fields, "offer"):
        if isinstance(data, dict) and (v := _extra_value(g, f.name, data.get(f.name))) is not None:
            out[f.name] = v
    return out


def typed_value(key: str, cand: Span) -> Any:
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
                item[fname] = typed_value(key, cand)
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
        for f in of_level(g.extra_fields, "item"):
            if (v := _extra_value(g, f.name, entry.get(f.name))) is not None:
                item.setdefault("extra", {})[f.name] = v
                src[f"extra.{f.name}"] = f.name
        if item in out.items:  # a small model repeats items
            continue
        out.items.append(item)
        out.origins.append(pos)
        out.sources.append(src)
        texts.append({k: v for k, v in entry.items() if k in KEYS and isinstance(v, str)})
    _facts_in_name(out, g)
    _localise(out, texts, g.text)
    _name_by_facts(out, texts, g)
    return out


def _facts_in_name(out: Decoded, g: Grounding) -> None:
    """A name the model chose that holds a price ("Office Station = $2100. each") gives the
    item that price (and a quantity stated with it) when it has none, and is cut before it."""
    for item, src in zip(out.items, out.sources, strict=True):
        name = str(item.get("product_name") or "")
        pos = g.text.find(name) if name else -1
        if pos < 0:
            continue
        end = pos + len(name)
        money = [m for m in g.cands.money if pos <= m.start < end and m.role in ("price", "other")]
        if not money:
            continue
        # A quantity inside a name counts only when the price follows it with "at" ("20 pcs
        # at $149") or comes after the price: else it is more often a pack size ("paper A4,
        # 500 sheets: 391 руб.").
        price = money[0]
        qty = [
            q
            for q in g.cands.quantities
            if q.role == "quantity"
            and (
                price.end <= q.start < end
                or (pos <= q.start < price.start and " at " in g.text[q.end : price.start + 1])
            )
        ]
        if money and "unit_price" not in item:
            item["unit_price"], src["unit_price"] = money[0].value, "n"
            if money[0].currency and "currency" not in item:
                item["currency"], src["currency"] = money[0].currency, "n"
        if qty and "quantity" not in item:
            item["quantity"], src["quantity"] = qty[0].value, "n"
            if qty[0].unit and "unit" not in item:
                item["unit"], src["unit"] = qty[0].unit, "n"
        first = min(c.start for c in (*money, *qty))
        cut = g.text[pos:first].rstrip(" =:-–—,;(@\t").strip()
        if len(_WORDS.findall(cut)) >= 1 and len(cut) >= layout.MIN_NAME:
            item["product_name"] = cut


def _name_by_facts(out: Decoded, texts: list[dict[str, str]], g: Grounding) -> None:
    """An item whose chosen name holds none of its own facts (code, brand, dimensions) while
    another name option does, is named by the shortest such option ("we can supply boxes
    60x40x40 cm" rather than "I will send the price tomorrow")."""
    names = list(g.options.get("n", {}))
    taken = {t.get("n") for t in texts}
    for item, t in zip(out.items, texts, strict=True):
        facts = [t[k] for k in ("k", "d", "b") if k in t]
        if not facts or any(f in t.get("n", "") for f in facts):
            continue
        better = [n for n in names if n not in taken and any(f in n for f in facts)]
        # The option must name something besides the facts ("LxWxH 60x50x180 cm" does not).
        better = [n for n in better if len(_WORDS.findall(_without(n, facts))) >= 2]
        if better:
            item["product_name"] = min(better, key=len)


_WORDS = re.compile(r"[^\W\d_]{2,}")


def _without(text: str, parts: list[str]) -> str:
    for p in parts:
        text = text.replace(p, " ")
    return text


def _positions(text: str, needle: str) -> list[int]:
    out = []
    start = text.find(needle)
    while start >= 0 and needle:
        out.append(start)
        start = text.find(needle, start + 1)
    return out


def _localise(out: Decoded, texts: list[dict[str, str]], text: str) -> None:
    """In a multi-item answer, a fact the model gave to several items belongs to the one whose
    name stands nearest before it in the text (the desk's "160x80 cm" is not the chair's); an
    item left with no fact of its own, while others have some, was not an item."""
    if len(out.items) < 2 or not text:
        return
    names = [_positions(text, t.get("n", "")) for t in texts]
    users: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(texts):
        for key, value in t.items():
            if key != "n":
                users.setdefault((key, value), []).append(i)
    for (key, value), items in users.items():
        if len(items) < 2:
            continue
        spots = _positions(text, value)

        def distance(i: int, spots: list[int] = spots) -> tuple[int, int, int]:
            # Same line first, then a name before the fact rather than after, then characters.
            gaps = [
                (abs(text.count("\n", min(s, n), max(s, n))), int(s < n), abs(s - n))
                for s in spots for n in names[i]
            ]  # fmt: skip
            return min(gaps, default=(1 << 30, 1, 1 << 30))

        keep = min(items, key=distance)
        for i in items:
            if i != keep:
                for f in [f for f, k in out.sources[i].items() if k == key]:
                    out.items[i].pop(f, None)
                    out.sources[i].pop(f, None)
    has_facts = [any(f != "product_name" for f in src) for src in out.sources]
    if any(has_facts):
        keep_idx = [i for i, ok in enumerate(has_facts) if ok]
        out.items = [out.items[i] for i in keep_idx]
        out.origins = [out.origins[i] for i in keep_idx]
        out.sources = [out.sources[i] for i in keep_idx]
        texts[:] = [texts[i] for i in keep_idx]


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
