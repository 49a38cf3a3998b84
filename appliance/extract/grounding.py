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
from appliance.extract.fields import ExtraField, of_level
from appliance.extract.readers import read
from appliance.extract.readers.numbers import NUMBER_RE, parse_number
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
    # Configured extra fields: name → option text → typed value (booleans have none).
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_fields: list[ExtraField] = field(default_factory=list)

    def has_facts(self) -> bool:
        """Whether the text states anything about a product beyond a name."""
        return any(self.options.get(k) for k in FACT_KEYS)


def _add(opts: dict[str, Span], spans: list[Any], limit: int = MAX_OPTIONS) -> None:
    for s in spans:
        text = s.text.strip()
        if text and len(opts) < limit:
            opts.setdefault(text, s)


def build(
    text: str,
    subject: str = "",
    cands: Candidates | None = None,
    extra: list[ExtraField] | None = None,
) -> Grounding:
    """The options of ``text`` (``subject`` adds name options), from the readers' candidates
    (``cands``, else read now); ``extra``: the configured extra fields."""
    cands = cands if cands is not None else read(text)
    g = Grounding(cands, text=text, extra_fields=list(extra or []))
    o = g.options = {k: {} for k in KEYS}
    cuts = [m.start for m in cands.money] + [q.start for q in cands.quantities]
    terms = [*cands.dates, *cands.incoterms, *cands.payment_terms, *cands.lead_times]
    avoid = [(t.start, t.end) for t in terms]
    for name in layout.name_options(text, subject, cuts, avoid)[:MAX_NAME_OPTIONS]:
        o["n"][name] = Span(-1, -1, name)
    _add(o["k"], cands.codes)
    _add(o["b"], cands.brands)
    _add(o["b"], title_brands(subject, text))
    _add(o["q"], [q for q in cands.quantities if q.role in ("quantity", "other")])
    _add(o["m"], [q for q in cands.quantities if q.role == "moq"])
    _add(o["p"], [m for m in cands.money if m.role in ("price", "other")])
    _add(o["t"], [m for m in cands.money if m.role == "total"])
    _add(o["d"], [d for d in cands.dimensions if sized(d)])
    _add(o["w"], [w for w in cands.weights if product_weight(w, text)])
    _add(o["l"], cands.lead_times)
    for f in g.extra_fields:
        g.extra[f.name] = _extra_options(f, g)
    return g


def _extra_options(f: ExtraField, g: Grounding) -> dict[str, Any]:
    """Option text → typed value for one extra field: numbers the text spells, its dates, or
    spans of it (text); booleans are free (true/false) and have no options."""
    out: dict[str, Any] = {}
    if f.kind in ("number", "integer"):
        for m in NUMBER_RE.finditer(g.text):
            value = parse_number(m.group())
            if value is not None and (f.kind == "number" or float(value).is_integer()):
                out.setdefault(m.group(), int(value) if f.kind == "integer" else value)
    elif f.kind == "date":
        out = {d.text: d.iso for d in g.cands.dates}
    elif f.kind == "text":
        out = {t: t for t in g.options["n"]}
    return dict(list(out.items())[:MAX_NAME_OPTIONS])


def _extra_props(g: Grounding, level: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in of_level(g.extra_fields, level):  # type: ignore[arg-type]
        if f.kind == "boolean":
            props[f.name] = {"type": "boolean"}
        elif g.extra.get(f.name):
            props[f.name] = {"type": "string", "enum": list(g.extra[f.name])}
        if f.name in props and f.description:
            props[f.name]["description"] = f.description
    return props


_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4, "ft": 304.8}
_TO_G = {"g": 1.0, "kg": 1000.0, "t": 1e6, "lb": 453.59237, "oz": 28.349523125}


def _close(a: Any, b: Any) -> bool:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return abs(x - y) <= max(1e-6, 0.005 * max(abs(x), abs(y)))


def _same(fname: str, value: Any, gold: Any) -> bool:
    """Whether a candidate's typed value is the label's value of contract field ``fname``."""
    if isinstance(gold, dict) and isinstance(value, dict):
        if fname == "weight":
            gold_g = float(gold.get("value") or 0) * _TO_G.get(gold.get("unit"), -1)
            return _close(value["value"] * _TO_G.get(value["unit"], 0), gold_g)
        scale_v, scale_g = _TO_MM.get(value["unit"], 0), _TO_MM.get(gold.get("unit") or "mm", -1)
        axes = [a for a in ("length", "width", "height") if gold.get(a) is not None]
        return bool(axes) and all(
            value.get(a) is not None and _close(value[a] * scale_v, gold[a] * scale_g) for a in axes
        )
    if isinstance(gold, str) and isinstance(value, str):
        return " ".join(value.casefold().split()) == " ".join(gold.casefold().split())
    return not isinstance(gold, dict | str) and _close(value, gold)


def _name_overlap(option: str, name: str) -> float:
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
        scored = [(_name_overlap(opt, name), opt) for opt in g.options.get("n", {})]
        best = max(scored, default=(0.0, ""))
        if best[0] < 0.5:
            continue
        entry: dict[str, Any] = {"n": best[1]}
        for key, fname in KEYS.items():
            gold = item.get(fname)
            if key == "n" or gold is None:
                continue
            for text, cand in g.options.get(key, {}).items():
                if _same(fname, _value(key, cand), gold):
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


def _norm_label(s: str) -> str:
    return re.sub(r"[\W_]+", "", s.casefold())


def labelled_extra(text: str, extra: list[ExtraField]) -> dict[str, Any]:
    """Extra values a key-value line states under the field's name or one of its labels
    (``Colour: red`` for a field ``color`` labelled "Colour"), typed; name → value."""
    wanted: dict[str, ExtraField] = {}
    for field_ in extra:
        for label in (field_.name, *(lab for _, lab in field_.labels)):
            wanted.setdefault(_norm_label(label), field_)
    out: dict[str, Any] = {}
    for line in layout.lines(text):
        if line.kind != "kv" or (f := wanted.get(_norm_label(line.cells[0].text))) is None:
            continue
        raw = re.split(r"[.;]\s|,\s", line.cells[1].text.strip(), maxsplit=1)[0].strip(" .;,")
        if f.kind in ("number", "integer"):
            m = NUMBER_RE.search(raw)
            raw = m.group() if m else ""
            value: Any = parse_number(raw) if raw else None
        elif f.kind == "date":
            dates = read(line.cells[1].text).dates
            value = dates[0].iso if dates else None
        else:
            value = raw
        try:
            coerced = f.coerce(value)
        except ValueError:
            continue
        if coerced is not None:
            out.setdefault(f.name, coerced)
    return out


def offer_extra(data: Any, g: Grounding) -> dict[str, Any]:
    """The offer-level extra values of the model's answer (name → typed value)."""
    out: dict[str, Any] = {}
    for f in of_level(g.extra_fields, "offer"):
        if isinstance(data, dict) and (v := _extra_value(g, f.name, data.get(f.name))) is not None:
            out[f.name] = v
    return out


_TITLE_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|ответ)\s*:\s*)*(?:[\w ]{0,30}(?:offer|quote|quotation|"
    r"предложение|кп|price list|прайс)\w*\s*[:\-–]\s*)?",
    re.IGNORECASE,
)
_TITLE_WORD = re.compile(r"[A-ZА-ЯЁ][\w&'’-]*[\w®™]?")
_NOT_BRAND = {"the", "our", "your", "new", "offer", "order", "quote", "price", "re", "fw", "for"}


def title_brands(subject: str, text: str) -> list[Span]:
    """The brand option a product title in the subject gives (``Offer: Safco Steel Wire Cart``
    → ``Safco``): its first capitalised word, or its first two when the text repeats those two
    (``Roaring Spring … Roaring Spring``), when the body names it too. A labelled brand
    (``by Redi-Tag``) is found by the readers."""
    title = _TITLE_PREFIX.sub("", subject, count=1).strip()
    words = title.split()
    if not words or words[0].casefold() in _NOT_BRAND or not _TITLE_WORD.fullmatch(words[0]):
        return []
    phrase = words[0]
    if len(words) > 1 and _TITLE_WORD.fullmatch(words[1]):
        two = f"{words[0]} {words[1]}"
        if text.count(two) >= 2:
            phrase = two
    pos = text.find(phrase)
    return [Span(pos, pos + len(phrase), phrase)] if pos >= 0 else []


_AXIS_WORD = re.compile(
    r"(?i)\b(?:length|long|width|wide|height|high|depth|deep|dia(?:meter)?|thick(?:ness)?|"
    r"длин\w*|ширин\w*|высот\w*|глубин\w*|диаметр\w*|толщин\w*|[LWHD])\b|[Øø⌀]"
)


_UNIT_MARK = re.compile(
    r"(?i)\d\s*(?:mm|cm|m|in|inch|inches|ft|feet|foot|мм|см|м)(?![^\W\d_])|[\"″”']"
)


def sized(d: Dimensions) -> bool:
    """Whether a dimensions candidate states its unit and what it measures: two or three axes
    (``60x40x40 cm``), or one named axis (``L 1.2 m``, ``Ø 20 mm``, ``width 2"``). A lone
    length (``12"``, ``1 inch``) is too often a size, a count or a capacity; ``8 1/2 x 11``
    states no unit, so no dimensions."""
    if not _UNIT_MARK.search(d.text):
        return False
    axes = [a for a in (d.length, d.width, d.height) if a is not None]
    return (len(axes) >= 2 and d.length is not None) or bool(_AXIS_WORD.search(d.text))


_PAPER = re.compile(r"(?i)\b(?:paper|stock|bond|cover|vellum|cardstock|sheets?|gsm|бумаг\w*)\b|g/m")


def product_weight(w: Weight, text: Any) -> bool:
    """Whether a weight weighs the product: not a paper's basis weight or grammage
    (``24 lb bond``, ``65 lb cover stock``, ``80 g/m²``), read from the weight's own line."""
    if not isinstance(text, str):
        return True
    start = text.rfind("\n", 0, w.start) + 1
    end = text.find("\n", w.end)
    line = text[start : end if end >= 0 else len(text)]
    return not _PAPER.search(line)


def max_items(g: Grounding) -> int:
    """How many items the text can hold: with prices on two lines or more, one per line that
    states a price or a quantity (at most ``MAX_ITEMS``); else one. One price, one product: a
    long product text is not a list."""
    lines = {g.text.count("\n", 0, m.start) for m in g.cands.money if m.role in ("price", "other")}
    if len(lines) < 2:
        return 1
    lines |= {g.text.count("\n", 0, q.start) for q in g.cands.quantities if q.role == "quantity"}
    return min(MAX_ITEMS, len(lines))


def item_schema(g: Grounding, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of one item: ``n`` required, each other key optional, every value an
    enum of the mail's strings. ``extra``: more properties (configured fields) to allow."""
    props: dict[str, Any] = {}
    for key in KEYS:
        options = list(g.options.get(key, {}))
        if options:
            props[key] = {"type": "string", "enum": options}
    props.update(_extra_props(g, "item"))
    props.update(extra or {})
    return {"type": "object", "properties": props, "required": ["n"], "additionalProperties": False}


def schema(g: Grounding, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole answer's schema: ``{"i": [item, …]}`` with at most ``max_items(g)`` items,
    and at least one when the text prices something or states a minimum order (it offers)."""
    items: dict[str, Any] = {"type": "array", "items": item_schema(g, extra)}
    items["maxItems"] = max_items(g)
    if g.options.get("p") or g.options.get("m"):
        items["minItems"] = 1
    return {
        "type": "object",
        "properties": {"i": items, **_extra_props(g, "offer")},
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


def single_currency(cands: Candidates) -> str | None:
    """The mail's currency when it names exactly one (in amounts or anywhere), else None."""
    found = {m.currency for m in cands.money if m.currency} | set(cands.currencies)
    return found.pop() if len(found) == 1 else None


def _only(spans: list[Any]) -> Any:
    """The one distinct value among ``spans`` (by text), or None."""
    texts = {s.text.strip() for s in spans}
    return spans[0] if len(texts) == 1 else None


def share_facts(
    items: list[dict[str, Any]], cands: Candidates, subject: str = "", text: str = ""
) -> list[str]:
    """Fill what the mail states once for all its items; return the filled paths.

    Every item: the mail's only lead time, its only currency (for an item with a price).
    A one-item offer also: its only price, quantity, MOQ, dimensions, weight, labelled code
    and labelled brand;
    else the brand its subject's product title starts with when the item's name holds it; and
    a code the subject names is its code rather than a barcode from the text.
    """
    filled: list[str] = []

    def fill(i: int, fname: str, value: Any) -> None:
        if value is not None and items[i].get(fname) in (None, ""):
            items[i][fname] = value
            filled.append(f"items[{i}].{fname}")

    lead = _only(cands.lead_times)
    single = single_currency(cands)
    for i, item in enumerate(items):
        if item.get("quantity") == 1 and item.get("total_price") is not None:
            fill(i, "unit_price", item["total_price"])  # one piece: its total is its price
        if lead is not None:
            fill(i, "lead_time_days", lead.days)
        if "unit_price" in item or "total_price" in item:
            fill(i, "currency", single)
    if len(items) == 1:
        price = _only([m for m in cands.money if m.role == "price"])
        if price is not None and items[0].get("unit_price") is None:
            fill(0, "unit_price", price.value)
            fill(0, "currency", price.currency)
            if price.per:
                fill(0, "unit", price.per)
        qty = _only([q for q in cands.quantities if q.role == "quantity"])
        if qty is not None and items[0].get("quantity") is None:
            fill(0, "quantity", qty.value)
            fill(0, "unit", qty.unit)
        moq = _only([q for q in cands.quantities if q.role == "moq"])
        if moq is not None:
            fill(0, "moq", moq.value)
        if (dims := _only([d for d in cands.dimensions if sized(d)])) is not None:
            fill(0, "dimensions", _value("d", dims))
        if (weight := _only([w for w in cands.weights if product_weight(w, text)])) is not None:
            fill(0, "weight", _value("w", weight))
        code = _only([c for c in cands.codes if isinstance(c, Code) and c.labelled])
        if code is not None:
            fill(0, "sku", code.text.strip())
        brand = _only([b for b in cands.brands if b.labelled])
        if brand is not None:
            fill(0, "brand", brand.text.strip())
        name = str(items[0].get("product_name") or "")
        for title_brand in title_brands(subject, text):
            if title_brand.text in name or title_brand.text in subject:
                fill(0, "brand", title_brand.text)
        in_subject = [c for c in cands.codes if c.text in subject]
        if len({c.text for c in in_subject}) == 1 and items[0].get("sku") != in_subject[0].text:
            items[0]["sku"] = in_subject[0].text
            filled.append("items[0].sku")
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
