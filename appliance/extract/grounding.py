"""Grounded choice: a per-mail JSON schema whose values can only be what the mail states.

The readers (``extract.readers``) find typed candidates with spans; ``layout`` finds the spans
that may name a product. ``build`` turns them into one schema for this mail in which every
value is an ``enum`` of strings copied from the mail (``"12.40 EUR"``, ``"500 boxes"``,
``"2 weeks"``, ``"Galvanized nails 3.1x90 mm"``), so the model chooses; it cannot write a value
the mail does not contain. A field with no candidate is not in the schema at all, so an
unstated MOQ, weight or lead time cannot be produced. Keys are one letter (``KEYS``) and every
key but the name is optional: the output is short, and what is unstated costs nothing.

``extract.choice`` maps the answer back to typed values (and a label to an answer, for
training); ``extract.stated`` applies what the mail states once for all its items.
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
    Dimensions,
    Span,
    Weight,
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
    _add(o["k"], seller_codes_first(cands.codes))
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


_TITLE_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|ответ)\s*:\s*)*(?:[\w ]{0,30}(?:offer|quote|quotation|"
    r"предложение|кп|price list|прайс)\w*\s*[:\-–]\s*)?",
    re.IGNORECASE,
)
# A brand word: capitalised (``Safco``, ``AT-A-GLANCE``, ``Elmer's``) or a short one that starts
# with a digit (``3M``); a word mixing letters and digits past that is an article code.
_TITLE_WORD = re.compile(r"[A-ZА-ЯЁ][^\W\d_]*(?:[&'’-][\w]+)*[®™]?|\d[A-ZА-ЯЁ]{1,2}")
_NOT_BRAND = {"the", "our", "your", "new", "offer", "order", "quote", "price", "re", "fw", "for"}
# A subject about a transaction is not a product title ("Dell Order Confirmation", "Private
# Office Pricing", "Retail power RFQs"): its first words are no brand.
_NOT_TITLE = re.compile(
    r"(?i)\border[ \t]+(?:confirm\w*|receipt|status|acknowledg\w*|number|no\b)|\bshipment\b"
    r"|\bshipping\b|\brfqs?\b|\brfps?\b|\bpricing\b|\binvoice\b|\breceipt\b|\bstatement\b"
    r"|подтвержд\w*[ \t]+заказа|\bсч[её]т\w*|\bнакладн\w*|\bотгрузк\w*"
)
# An article code a title may start with: digits with letters or a dash, four signs or more.
_LEADING_CODE = re.compile(r"(?=[\w-]*\d)(?=[\w-]*[^\W\d_-]|[\w-]*\d-\d)[\w-]{4,}")
# Words that praise or qualify a product before its brand ("Genuine Canon Toner").
_QUALIFIER = {
    "genuine", "original", "authentic", "premium", "compatible", "remanufactured", "oem",
    "brand", "branded", "оригинальный", "оригинальная", "оригинальные", "новый", "новая",
}  # fmt: skip


def seller_codes_first(codes: list[Any]) -> list[Any]:
    """``codes`` with a reseller's own article number before the maker's code it wraps: a
    code that is another one with a short letter prefix (``LEXE250X22G`` for ``E250X22G``,
    ``CNM4549B001A`` for ``4549B001A``) is the seller's catalogue number, the one to order by."""
    texts = [c.text for c in codes]
    wraps = {
        i
        for i, a in enumerate(texts)
        for b in texts
        if a != b and a.endswith(b) and 2 <= len(a) - len(b) <= 4 and a[: len(a) - len(b)].isalpha()
    }
    return [codes[i] for i in sorted(range(len(codes)), key=lambda i: i not in wraps)]


def title_brands(subject: str, text: str) -> list[Span]:
    """The brand options a product title in the subject gives: its first one and two
    capitalised words (``Offer: Stanley Bostitch Stapler Black`` → ``Stanley``, ``Stanley
    Bostitch``), three only where the body repeats all three, each where the body names it too,
    the likeliest first (two words the text repeats, else one); the model chooses where the
    brand ends. A subject about a transaction (an order confirmation, an invoice, an RFQ) is
    no title and gives none. Qualifiers, a count and an article code before the brand are
    skipped (``Genuine Canon`` → ``Canon``, ``R4785 Dell 36-GB Drive`` → ``Dell``). A
    labelled brand (``by Redi-Tag``) is found by the readers."""
    if _NOT_TITLE.search(subject):
        return []
    words = _TITLE_PREFIX.sub("", subject, count=1).split()
    # Qualifiers and what a title may start with before its brand: a count (``1 X``) or the
    # article code (``R4785 Dell 36-GB …``).
    while words and (
        words[0].casefold() in _QUALIFIER
        or words[0] in ("x", "X", "×")
        or (len(words) > 1 and _LEADING_CODE.fullmatch(words[0]) is not None)
    ):
        words = words[1:]
    if not words or words[0].casefold() in _NOT_BRAND:
        return []
    out: list[Span] = []
    for n in range(1, min(3, len(words)) + 1):
        if not _TITLE_WORD.fullmatch(words[n - 1]):
            break
        phrase = " ".join(words[:n])
        pos = text.find(phrase)
        if pos < 0 or (n == 3 and text.count(phrase) < 2):
            break
        out.append(Span(pos, pos + len(phrase), phrase))
    # The likeliest first: two words the text repeats (``Roaring Spring … Roaring Spring``),
    # else the first word.
    if len(out) >= 2 and text.count(out[1].text) >= 2:
        out[0], out[1] = out[1], out[0]
    return out


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


def single_currency(cands: Candidates) -> str | None:
    """The mail's currency when it names exactly one (in amounts or anywhere), else None."""
    found = {m.currency for m in cands.money if m.currency} | set(cands.currencies)
    return found.pop() if len(found) == 1 else None
