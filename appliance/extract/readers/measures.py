"""Dimensions and weights.

Dimensions: chains of two or three lengths (``1200x600x2000 мм``, ``60 x 40 x 40cm``,
``1" x 7/16"``, ``14.4" Length x 10.25" Width 15" Height``, ``8 1/2 x 11``, ``3.1x90 mm``,
``20"w x 18"d``, ``8 1/2"x14 1/2"``), with an axis legend before them kept in the span
(``Ш×Г×В 800×400×1800 мм``, ``WxDxH: 60x40x40 cm``); labelled single lengths (``L 1.2 m``,
``Ø 20 mm``, ``width: 60 cm``), single lengths followed by an axis word, kept in the span so a
consumer sees what the number measures (``36" Wide``, ``19-1/4" deep``, ``20 mm dia``; the
value goes in ``length``), and single lengths in mm/cm/inches/feet (``20 mm``, ``12"``).

Units are normalised to mm/cm/m/in/ft. An axis without its own unit takes the next unit to its
right (``10 x 20 cm``), else the one to its left (``8.5" x 11``). A chain mixing units of one
system is converted into its first axis' unit (``48" x 50 ft.`` → 48 x 600 in, ``2" x 60 yds``
→ 2 x 2160 in; yards, which ``Dimensions`` has no unit for, only appear in chains and become
inches or feet); a chain mixing metric and imperial units (``10 cm x 5 inches``) is two things
and is read as two single lengths. A chain without any unit is read only when it spells
fractions (``8 1/2 x 11``, ``25-3/4w x 13-7/8d``): fractions are an inch spelling; ``60x40x40``
alone states no unit and is left out. A bare metre count (``1000 м``) is a quantity, not a
dimension (see quantities.py).

Weights: ``2.5 kg``, ``6 oz.``, ``12 кг``, ``500 g``, ``3 lbs``; normalised to g/kg/t/lb/oz.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from appliance.extract.contract import LENGTH_ALIASES, WEIGHT_ALIASES
from appliance.extract.readers.context import Taken, guard
from appliance.extract.readers.numbers import (
    FRACTION_BODY,
    NUMBER,
    is_fraction,
    parse_measure,
    parse_number,
)
from appliance.extract.readers.types import Dimensions, Weight

LengthUnit = Literal["mm", "cm", "m", "in", "ft"]
WeightUnit = Literal["g", "kg", "t", "lb", "oz"]

_UNIT_WORDS = (
    r"mm|cm|millimet(?:er|re)s?|centimet(?:er|re)s?|met(?:er|re)s?|m|мм|см|м"
    r"|inch(?:es)?|in\.?|\"|”|″|''|дюйм(?:а|ов)?|ft\.?|feet|foot|'"
)
# After a unit: no letter, except the "x" of a chain written without spaces (8 1/2"x14 1/2",
# 10cmx20cm) and an axis letter glued to an inch or foot mark (20"w x 18"d).
_UNIT_END = (
    r"(?![²³]|/\w)(?:(?![^\W\d_])|(?=[xх][ \t]*[\d½¼¾⅛⅜⅝⅞])"
    r"|(?<=[\"”″'])(?=[lwhd](?![^\W\d_])))"
)
_LENGTH_UNIT = rf"(?:{_UNIT_WORDS}){_UNIT_END}"
# Yards only in chains (a tape roll: 2" x 60 yds); converted to inches or feet there.
_YARDS = r"yds?\.?|yards?|ярд(?:а|ов)?"
_CHAIN_UNIT = rf"(?:{_UNIT_WORDS}|{_YARDS}){_UNIT_END}"
_AXIS = r"(?:length|width|height|depth|long|wide|high|deep|[lwhd](?![^\W\d_]))"
# An axis word after a single length (36" Wide, 20 mm dia): the words the grounding reads as
# naming an axis; a lone axis letter only glued to an inch or foot mark (36"W).
_TRAIL_AXIS = (
    r"(?:length|long|width|wide|height|high|depth|deep|thick(?:ness)?|dia(?:meter)?"
    r"|(?<=[\"”″'])[lwhd])(?![^\W\d_])"
)
_AXES = {"l": "length", "w": "width", "h": "height", "ш": "width", "в": "height"}


def _item(i: int) -> str:
    return (
        rf"(?P<n{i}>{FRACTION_BODY})(?:[ \t]?(?P<u{i}>{_CHAIN_UNIT}))?"
        rf"(?:[ \t]?(?P<a{i}>{_AXIS}))?"
    )


def _sep(i: int) -> str:
    """An "x" between items; after an axis word a space alone will do ('15" Width 15"') when
    the next item has its own unit or axis ('12" long 5 pcs' is no chain)."""
    return (
        rf"(?:[ \t]*[x×хX*][ \t]*|(?(a{i})[ \t]+"
        rf"(?={FRACTION_BODY}[ \t]?(?:{_CHAIN_UNIT}|{_AXIS}))|(?!)))"
    )


CHAIN_RE = re.compile(
    rf"(?=[\d½¼¾⅛⅜⅝⅞])(?<![\w.,/]){_item(1)}{_sep(1)}{_item(2)}(?:{_sep(2)}{_item(3)})?"
    rf"(?:[ \t]?(?P<unit>{_CHAIN_UNIT}))?",
    re.IGNORECASE,
)
# An axis legend just before a chain: "Ш×Г×В 800×400×1800 мм", "WxDxH: 60x40x40 cm".
_LEGEND_LETTER = r"[LWHDДШВГ]"
_LEGEND_RE = re.compile(
    rf"(?<![^\W\d_]){_LEGEND_LETTER}(?:[ \t]*[x×хX*][ \t]*{_LEGEND_LETTER}){{1,2}}"
    r"[ \t]*[:=]?[ \t]*\Z",
    re.IGNORECASE,
)
_LABEL = (
    r"(?P<label>(?-i:[LWHD])|Ø|⌀|dia\.?|diameter|length|width|height|depth|thickness"
    r"|длина|ширина|высота|глубина|диаметр|толщина)"
)
_SINGLE_GUARD = guard(
    ("di", "le", "wi", "he", "de", "th", "дл", "ши", "вы", "гл", "ди", "то"),
    r"\dLWHDØ⌀½¼¾⅛⅜⅝⅞",
)
# A single length's number: not inside a number or a code, or glued to the word before it, as
# shop texts lose a space between fields ('Four-Drawer53-1/4" high'); a glued one is read only
# as inches with an axis word after it (see read_dimensions).
_SINGLE_NUMBER = r"(?=[\d½¼¾⅛⅜⅝⅞])(?:(?<![\w.,/])(?<!\w-)|(?P<glued>(?<=[^\W\d_])))" + FRACTION_BODY
SINGLE_RE = re.compile(
    rf"{_SINGLE_GUARD}(?:(?<![^\W\d_]){_LABEL}[ \t]*[:=]?[ \t]*)?(?P<n>{_SINGLE_NUMBER})"
    rf"(?:[ \t-]?(?P<u>{_LENGTH_UNIT}))(?:[ \t]?(?P<axis>{_TRAIL_AXIS}))?",
    re.IGNORECASE,
)
# Single lengths without a label only in these units ("5 m" is often a count, "12 in" a phrase).
_UNLABELLED_UNITS = {"mm", "cm", "in", "ft"}
WEIGHT_RE = re.compile(
    rf"(?P<n>{NUMBER})[ \t\u00a0]?(?P<u>kgs?|кг|grams?|gr|гр|(?-i:g|г|t|т)|tons?|tonnes?|тонн[аы]?"
    r"|lbs?|pounds?|oz|ounces?|фунт(?:а|ов)?|унци[йия])"
    r"(?:(?:(?<=oz)|(?<=lb)|(?<=lbs)|(?<=gr)|(?<=гр))\.(?=\s|$|[,;:)]))?"
    r"(?![^\W\d_]|[²³/]|\.\s?[а-я]\.)",
    re.IGNORECASE,
)


def length_unit(token: str) -> LengthUnit | None:
    t = token.strip().lower().rstrip(".")
    if t.startswith("дюйм"):
        t = "inch"
    t = {"”": '"', "″": '"', "''": '"', "meters": "meter", "metres": "metre"}.get(t, t)
    t = re.sub(r"(millimet|centimet)(er|re)s$", r"\1\2", t)
    u = LENGTH_ALIASES.get(t, t)
    return cast(LengthUnit, u) if u in ("mm", "cm", "m", "in", "ft") else None


def weight_unit(token: str) -> WeightUnit | None:
    t = token.strip().lower().rstrip(".")
    for stem, unit in (("фунт", "lb"), ("унци", "oz"), ("тонн", "t"), ("tonnes", "t")):
        if t.startswith(stem):
            t = unit
    t = {"kgs": "kg", "gram": "g", "grams": "g", "tons": "t", "ounces": "oz"}.get(t, t)
    u = WEIGHT_ALIASES.get(t, t)
    return cast(WeightUnit, u) if u in ("g", "kg", "t", "lb", "oz") else None


# Units after a chain that make it something else ('0.5 x 2 mils', '3 x 5 oz').
_OTHER_UNIT_RE = re.compile(r"[ \t]?(?:mils?|gauge|qt|pt|oz|lbs?)\b", re.IGNORECASE)
# Each unit's system and size in that system's smallest unit (yards only inside chains).
_SCALE: dict[str, tuple[str, float]] = {
    "mm": ("metric", 1), "cm": ("metric", 10), "m": ("metric", 1000),
    "in": ("imperial", 1), "ft": ("imperial", 12), "yd": ("imperial", 36),
}  # fmt: skip


def _chain_unit(token: str) -> str | None:
    t = token.strip().lower().rstrip(".")
    return "yd" if t.startswith(("yd", "yard", "ярд")) else length_unit(token)


def _axis_units(m: re.Match[str], count: int) -> list[str | None] | None:
    """Each axis' unit: its own, else the next one to its right, else the one to its left; None
    for an unknown unit token."""
    raw = [m.group(f"u{i}") for i in range(1, count + 1)]
    if m.group("unit"):
        raw.append(m.group("unit"))
    units = [_chain_unit(t) if t else None for t in raw]
    if any(t and u is None for t, u in zip(raw, units, strict=True)):
        return None
    carry: str | None = None
    for i in reversed(range(len(units))):
        carry = units[i] = units[i] or carry
    for i in range(1, len(units)):
        units[i] = units[i] or units[i - 1]
    return units[:count]


def _convert(values: list[float], units: list[str | None]) -> tuple[list[float], LengthUnit] | None:
    """The values in one unit: the first axis' (inches or feet for yards); None when the chain
    mixes metric and imperial units ("10 cm x 5 inches" is two things)."""
    if len({_SCALE[u][0] for u in units if u}) > 1:
        return None
    first = units[0]
    if first is None:
        return None
    target = first
    if target == "yd":
        target = "in" if "in" in units else "ft"
    scale = _SCALE[target][1]
    out = [v if u in (None, target) else round(v * _SCALE[u][1] / scale, 6)
           for v, u in zip(values, units, strict=True)]  # fmt: skip
    return out, cast(LengthUnit, target)


def _chain(m: re.Match[str], taken: Taken) -> Dimensions | None:
    if _OTHER_UNIT_RE.match(m.string, m.end()):
        return None
    tokens = [m.group(f"n{i}") for i in (1, 2, 3) if m.group(f"n{i}")]
    axes = [a[0].lower() for i in (1, 2, 3) if (a := m.group(f"a{i}"))]
    if len(set(axes)) < len(axes):
        return None  # one axis twice ('30"D 30"D Base') is no chain
    parsed = [parse_measure(t) for t in tokens]
    values = [v for v in parsed if v is not None]
    units = _axis_units(m, len(tokens))
    if len(values) < len(parsed) or units is None:
        return None
    if units[0] is None:  # no unit anywhere: inches when spelled as fractions
        if not any(is_fraction(t) for t in tokens):
            return None
        units = ["in"] * len(tokens)
    converted = _convert(values, units)
    if converted is None:
        return None
    (l, w, *h), unit = converted  # noqa: E741
    start = m.start()
    legend = _LEGEND_RE.search(m.string, max(0, start - 24), start)
    if legend and not taken.overlaps(legend.start(), start):
        start = legend.start()
    return Dimensions(
        start, m.end(), m.string[start : m.end()],
        length=l, width=w, height=h[0] if h else None, unit=unit,
    )  # fmt: skip


def read_dimensions(text: str, taken: Taken) -> list[Dimensions]:
    out: list[Dimensions] = []
    for m in CHAIN_RE.finditer(text):
        if not taken.overlaps(*m.span()) and (d := _chain(m, taken)):
            out.append(d)
    chains = Taken((d.start, d.end) for d in out)
    for m in SINGLE_RE.finditer(text):
        unit = length_unit(m.group("u"))
        value = parse_measure(m.group("n"))
        label = (m.group("label") or "").lower()
        if m.group("glued") is not None and (label or unit != "in" or not m.group("axis")):
            continue
        if unit is None or value is None or chains.overlaps(*m.span()) or taken.overlaps(*m.span()):
            continue
        if not label and (
            m.group("u").lower() == "in" or (unit not in _UNLABELLED_UNITS and not m.group("axis"))
        ):
            continue  # "5 m" is often a count ("5 m long" is not), "10 in high demand" a phrase
        axis = _AXES.get(label[:1], "length")  # a trailing axis word: the value in length
        out.append(
            Dimensions(
                m.start(), m.end(), m.group(), unit=unit,
                length=value if axis == "length" else None,
                width=value if axis == "width" else None,
                height=value if axis == "height" else None,
            )
        )  # fmt: skip
    out.sort(key=lambda d: d.start)
    return out


def read_weights(text: str, taken: Taken) -> list[Weight]:
    out: list[Weight] = []
    for m in WEIGHT_RE.finditer(text):
        value = parse_number(m.group("n"))
        unit = weight_unit(m.group("u"))
        if value is None or unit is None or taken.overlaps(*m.span()):
            continue
        out.append(Weight(m.start(), m.end(), m.group(), value=value, unit=unit))
    return out
