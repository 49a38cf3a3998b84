"""Dimensions and weights.

Dimensions: chains of two or three lengths (``1200x600x2000 мм``, ``60 x 40 x 40cm``,
``1" x 7/16"``, ``14.4" Length x 10.25" Width 15" Height``, ``8 1/2 x 11``, ``3.1x90 mm``),
labelled single lengths (``L 1.2 m``, ``Ø 20 mm``, ``width: 60 cm``) and single lengths in
mm/cm/inches/feet (``20 mm``, ``12"``). Units are normalised to mm/cm/m/in/ft. A chain without
any unit is read only when it spells fractions (``8 1/2 x 11``, ``25-3/4w x 13-7/8d``): fractions
are an inch spelling; ``60x40x40`` alone states no unit and is left out. A bare metre count
(``1000 м``) is a quantity, not a dimension (see quantities.py).

Weights: ``2.5 kg``, ``6 oz.``, ``12 кг``, ``500 g``, ``3 lbs``; normalised to g/kg/t/lb/oz.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from appliance.extract.contract import LENGTH_ALIASES, WEIGHT_ALIASES
from appliance.extract.readers.context import Taken, guard
from appliance.extract.readers.numbers import (
    FRACTION_BODY,
    FRACTION_NUMBER,
    NUMBER,
    is_fraction,
    parse_measure,
    parse_number,
)
from appliance.extract.readers.types import Dimensions, Weight

LengthUnit = Literal["mm", "cm", "m", "in", "ft"]
WeightUnit = Literal["g", "kg", "t", "lb", "oz"]

_LENGTH_UNIT = (
    r"(?:mm|cm|millimet(?:er|re)s?|centimet(?:er|re)s?|met(?:er|re)s?|m|мм|см|м"
    r"|inch(?:es)?|in\.?|\"|”|″|''|дюйм(?:а|ов)?|ft\.?|feet|foot|')"
    r"(?![²³]|[^\W\d_]|/\w)"
)
_AXIS = r"(?:length|width|height|depth|long|wide|high|deep|[lwhd](?![^\W\d_]))"
_AXES = {"l": "length", "w": "width", "h": "height", "ш": "width", "в": "height"}


def _item(i: int) -> str:
    return (
        rf"(?P<n{i}>{FRACTION_BODY})(?:[ \t]?(?P<u{i}>{_LENGTH_UNIT}))?"
        rf"(?:[ \t]?(?P<a{i}>{_AXIS}))?"
    )


def _sep(i: int) -> str:
    """An "x" between items; after an axis word a space alone will do ('15" Width 15"')."""
    return rf"(?:[ \t]*[x×хX*][ \t]*|(?(a{i})[ \t]+|(?!)))"


CHAIN_RE = re.compile(
    rf"(?=[\d½¼¾⅛⅜⅝⅞])(?<![\w.,/]){_item(1)}{_sep(1)}{_item(2)}(?:{_sep(2)}{_item(3)})?"
    rf"(?:[ \t]?(?P<unit>{_LENGTH_UNIT}))?",
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
SINGLE_RE = re.compile(
    rf"{_SINGLE_GUARD}(?:(?<![^\W\d_]){_LABEL}[ \t]*[:=]?[ \t]*)?(?P<n>{FRACTION_NUMBER})"
    rf"(?:[ \t-]?(?P<u>{_LENGTH_UNIT}))",
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


# Units after a chain that make it something else ('1.88" x 21.8 yd' is a tape roll).
_OTHER_UNIT_RE = re.compile(r"[ \t]?(?:yds?|yards?|mils?|gauge|qt|pt|oz|lbs?)\b", re.IGNORECASE)


def _chain(m: re.Match[str]) -> Dimensions | None:
    if _OTHER_UNIT_RE.match(m.string, m.end()):
        return None
    tokens = [m.group(f"n{i}") for i in (1, 2, 3) if m.group(f"n{i}")]
    values = [parse_measure(t) for t in tokens]
    if any(v is None for v in values):
        return None
    units = {length_unit(m.group(f"u{i}")) for i in (1, 2, 3) if m.group(f"u{i}")}
    if m.group("unit"):
        units.add(length_unit(m.group("unit")))
    if len(units) > 1 or None in units:
        return None  # mixed units ("1 ft x 6 in") or an unknown one
    unit = units.pop() if units else ("in" if any(is_fraction(t) for t in tokens) else None)
    if unit is None:
        return None
    l, w, *h = values  # noqa: E741
    return Dimensions(
        m.start(), m.end(), m.group(), length=l, width=w, height=h[0] if h else None, unit=unit
    )


def read_dimensions(text: str, taken: Taken) -> list[Dimensions]:
    out: list[Dimensions] = []
    for m in CHAIN_RE.finditer(text):
        if not taken.overlaps(*m.span()) and (d := _chain(m)):
            out.append(d)
    chains = Taken((d.start, d.end) for d in out)
    for m in SINGLE_RE.finditer(text):
        unit = length_unit(m.group("u"))
        value = parse_measure(m.group("n"))
        label = (m.group("label") or "").lower()
        if unit is None or value is None or chains.overlaps(*m.span()) or taken.overlaps(*m.span()):
            continue
        if not label and (unit not in _UNLABELLED_UNITS or m.group("u").lower() == "in"):
            continue  # "5 m" is often a count, "10 in stock" a phrase
        axis = _AXES.get(label[:1], "length")
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
