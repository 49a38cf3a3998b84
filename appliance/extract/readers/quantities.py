"""Quantities: a count with its unit (``500 boxes``, ``20 pcs``, ``1000 м``, ``10 шт.``,
``2,000 pcs``), a labelled count (``Quantity: 500``, ``Qty 3``, ``Количество: 1000 м``) or a
multiplier (``x 4``); role ``moq`` after MOQ / minimum order / минимальная партия, ``stock``
after "in stock:" / "на складе".

The unit is kept as written (``boxes``, ``шт``), without an abbreviation's trailing dot (which
stays inside the span). Lengths count as quantities only in metres (cable, rope by the metre);
weights only after a quantity label (``Quantity: 500 kg``).
"""

from __future__ import annotations

import re

from appliance.extract.readers.context import Taken, after, before, guard, last_role
from appliance.extract.readers.numbers import NUMBER, parse_number
from appliance.extract.readers.types import Quantity, QuantityRole

_COUNT_UNITS = (
    r"pcs|pc|pce|pces|pieces?|units?|ea|box(?:es)?|cartons?|ctns?|cases?|pallets?|plts?|rolls?"
    r"|sets?|pairs?|prs|packs?|packages?|pkgs?|bags?|bottles?|cans|sheets?|reels?|drums?"
    r"|bundles?|coils?|lots?|kits?|tubes?|buckets?|barrels?|containers?|crates?|trays?"
    r"|dozens?|doz|sacks?|items?|litres?|liters?|meters?|metres?|lm|(?-i:m)"
    r"|шт|штук[аи]?|штуки|коробк[аи]|коробок|упаковк[аи]|упаковок|уп|паллет[аы]?|поддон(?:а|ов|ы)?"
    r"|рулон(?:а|ов|ы)?|комплект(?:а|ов|ы)?|компл|к-т|пар[аы]?|ящик(?:а|ов|и)?|мешк(?:а|ов|и)"
    r"|мешок|бухт[аы]?|лист(?:а|ов|ы)?|ед|единиц|литр(?:а|ов)?|(?-i:л)|метр(?:а|ов)?|м\.п"
    r"|пог\.\s?м|(?-i:м)"
)
_WEIGHT_UNITS = r"kg|kgs|g|t|tons?|tonnes?|lbs?|кг|г|т|тонн[аы]?"
# An abbreviation's dot ("10 шт.", "2,000 pcs.") stays in the span; SI symbols take none.
_DOTTED = ("pcs", "pc", "pce", "ea", "ctn", "ctns", "plt", "pkg", "prs", "doz", "шт", "уп", "ед")
_UNIT_END = "(?:(?:" + "|".join(f"(?<={u})" for u in _DOTTED) + r")\.(?=\s|$|[,;:)]))?(?![^\W\d_])"
_UNIT_RE = re.compile(
    rf"(?P<num>{NUMBER})[ \t\u00a0]?(?P<unit>(?i:{_COUNT_UNITS})){_UNIT_END}",
)
LABELS_RE = re.compile(
    r"(?P<moq>\bMOQ\b|\bmin(?:imum|\.)?\s*(?:order|ord\.)(?:\s+(?:quantity|qty|volume))?"
    r"|\bmin(?:imum|\.)?\s+(?:quantity|qty|lot)|минимальн\w+\s+(?:партия|партии|заказ\w*"
    r"|количество|объ[её]м\w*|отгрузк\w*)|\bмин\.?\s*(?:заказ|партия|партии|кол-во))"
    r"|(?P<stock>\b(?:in|on)\s+stock\b|\bstock(?:\s+(?:level|qty|quantity))?(?=\s*:)"
    r"|\bavailable(?=\s*:)|на\s+складе|в\s+наличии|остаток)"
    r"|(?P<quantity>\bquantity|\bqty\b|\bq-?ty\b|\bколичество|\bкол-во|\bкол\."
    r"|объ[её]м\s+партии)",
    re.IGNORECASE,
)
_LABEL_GUARD = guard((
    "mo", "mi", "ми", "in", "on", "st", "av", "на", "в ", "ос", "об", "qu", "qt", "q-", "ко",
))  # fmt: skip
_LABELLED_RE = re.compile(
    rf"{_LABEL_GUARD}(?:{LABELS_RE.pattern})[ \t]*(?:\([^)\n]{{0,15}}\))?[ \t]*[:=\-–—]?[ \t]*"
    r"(?:of[ \t]+)?"
    rf"(?P<num>{NUMBER})(?:[ \t\u00a0]?(?P<unit>(?i:{_COUNT_UNITS}|{_WEIGHT_UNITS})){_UNIT_END})?"
    r"(?![ \t]*(?:%|[xх×*][ \t]*\d|days?\b|weeks?\b|дн|недел))",
    re.IGNORECASE,
)
_TIMES_RE = re.compile(
    r"(?=[x×])(?<![^\W\d_])[x×][ \t]?(?P<num>\d{1,5})(?![\d.,x×/]|[ \t]*[^\W\d_\s\"])"
)
_NOT_AFTER_TIMES = re.compile(
    r"(?:\d|[\"”″']|\b(?:mm|cm|m|in|ft|мм|см|м|length|width|height|depth|[LWHD]))[ \t]*$",
    re.IGNORECASE,
)
_STOCK_AFTER_RE = re.compile(r"^[ \t]*(?:in\s+stock|on\s+stock|available|на\s+складе|в\s+наличии)")
_MOQ_AFTER_RE = re.compile(r"^[ \t]*(?:minimum|min\.|минимум)", re.IGNORECASE)


def _clean_unit(unit: str | None) -> str | None:
    return unit.rstrip(".") if unit else None


def _role_around(text: str, start: int, end: int, floor: int) -> QuantityRole:
    context = " ".join(before(text, start, 80, floor).split())[-40:]
    role = last_role(LABELS_RE, context)
    if role in ("moq", "stock"):
        return role  # type: ignore[return-value]
    tail = after(text, end, 20)
    if _STOCK_AFTER_RE.match(tail):
        return "stock"
    if _MOQ_AFTER_RE.match(tail):
        return "moq"
    return "quantity"


def read_quantities(text: str, taken: Taken) -> list[Quantity]:
    """Quantities in text order; one candidate per number (a label and a unit on the same
    number make one candidate)."""
    by_start: dict[int, Quantity] = {}
    for m in _LABELLED_RE.finditer(text):
        s = m.start("num")
        value = parse_number(m.group("num"))
        if value is None or taken.overlaps(s, m.end("num")):
            continue
        role: QuantityRole = (
            "moq" if m.group("moq") else "stock" if m.group("stock") else "quantity"
        )
        unit = _clean_unit(m.group("unit"))
        by_start[s] = Quantity(s, m.end(), text[s : m.end()], value=value, unit=unit, role=role)
    prev_end = 0
    for m in _UNIT_RE.finditer(text):
        s, e = m.span()
        value = parse_number(m.group("num"))
        if value is None or s in by_start or taken.overlaps(s, m.end("num")):
            continue
        unit = _clean_unit(m.group("unit"))
        role = _role_around(text, s, e, prev_end)
        by_start[s] = Quantity(s, e, m.group(), value=value, unit=unit, role=role)
        prev_end = e
    for m in _TIMES_RE.finditer(text):
        s, e = m.span("num")
        if s in by_start or taken.overlaps(s, e):
            continue
        if _NOT_AFTER_TIMES.search(before(text, m.start(), 20)):
            continue  # "60 x 40", '1" x 7/16"', "Length x 10": a dimension
        by_start[s] = Quantity(s, e, m.group("num"), value=float(m.group("num")))
    return [by_start[k] for k in sorted(by_start)]
