"""What a price is quoted per, in a base unit of its kind (pint does the conversions).

``box of 100`` → 100 piece, ``100 pcs/box`` → 100 piece, ``pcs``/``шт`` → 1 piece, ``g`` →
0.001 kg, ``roll 50 m`` → 50 m, ``л`` → 1 l. A box, pack or roll whose size the text does not
say cannot be converted: the comparison shows the price as it is and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Words for "one piece" and for containers whose size follows (EN/RU, singular as the contract
# keeps them: ``singular_unit``).
_PIECE_WORDS = {
    "pc", "pcs", "piece", "pieces", "ea", "each", "item", "unit", "шт", "штука", "штук", "ед",
}  # fmt: skip
_PACKS = (
    "box|pack|package|packet|carton|case|bag|roll|pallet|set|"
    "упаковка|упаковки|уп|коробка|коробки|пачка|пачки|рулон|мешок|набор"
)
# Unit spellings pint does not know, mapped to pint names.
_ALIASES = {
    "кг": "kg", "г": "g", "гр": "g", "т": "t", "тонна": "t", "м": "m", "метр": "m", "см": "cm",
    "мм": "mm", "л": "l", "литр": "l", "мл": "ml", "m2": "m**2", "м2": "m**2", "m²": "m**2",
    "м²": "m**2", "sqm": "m**2", "m3": "m**3", "м3": "m**3", "m³": "m**3", "м³": "m**3",
    "lbs": "lb", "litre": "l", "liter": "l", "meter": "m", "metre": "m", "ton": "t", "tonne": "t",
}  # fmt: skip
_NUM = r"(\d+(?:[.,]\d+)?)"
_WORD = r"([a-zа-яё²³0-9*]+)"
# "box of 100", "box of 100 pcs", "упаковка 100 шт", "pack (50 m)", "box/100"
_PACK_OF = re.compile(rf"(?:{_PACKS})\.?\s*(?:of|с|по|x|х|/|\(|-)?\s*{_NUM}\s*{_WORD}?", re.I)
# "100 pcs/box", "100 шт в упаковке", "50 m per roll", "100/box"
_N_PER_PACK = re.compile(rf"{_NUM}\s*{_WORD}?\s*(?:/|per|в|in a|a)\s*(?:{_PACKS})", re.I)
# "100 pcs", "2.5 kg", "1000 шт"
_N_UNIT = re.compile(rf"^\s*{_NUM}\s*{_WORD}\s*$", re.I)
# Base unit of each kind the comparison normalises to.
BASES = {"[count]": "piece", "[mass]": "kg", "[length]": "m", "[length] ** 2": "m**2",
         "[length] ** 3": "l"}  # fmt: skip


@dataclass(frozen=True)
class PriceUnit:
    """What one price is for: ``amount`` of ``base`` (``piece``, ``kg``, ``m``, ``m**2``,
    ``l``), read from ``text`` as ``how`` says."""

    amount: float
    base: str
    how: str


@lru_cache(maxsize=1)
def registry() -> Any:
    """pint's registry with ``piece`` as the unit of counting (built once, on first use)."""
    import pint

    ureg: Any = pint.UnitRegistry()
    ureg.define("piece = [count] = pc")
    ureg.define("dozen_pieces = 12 * piece")
    return ureg


def _unit_name(word: str | None) -> str:
    w = (word or "").strip(" .").casefold()
    if not w or w in _PIECE_WORDS:
        return "piece"
    if w in ("dozen", "дюжина"):
        return "dozen_pieces"
    return _ALIASES.get(w, w)


def _to_base(amount: float, unit: str) -> tuple[float, str] | None:
    """``amount`` of ``unit`` in the base unit of its kind, or None when pint does not know it
    or it is of no kind the comparison uses."""
    ureg = registry()
    try:
        q = ureg.Quantity(amount, unit)
        dim = str(q.dimensionality)
    except Exception:  # pint raises many kinds (UndefinedUnitError, DefinitionSyntaxError …)
        return None
    base = BASES.get(dim)
    if base is None:
        return None
    return float(q.to(base).magnitude), base


def _num(text: str) -> float:
    return float(text.replace(",", "."))


def _pack(text: str, where: str = "") -> PriceUnit | None:
    """A stated pack size (``box of 100``, ``100 pcs/box``) in base units, or None."""
    for rx in (_PACK_OF, _N_PER_PACK):
        m = rx.search(text)
        if m:
            got = _to_base(_num(m.group(1)), _unit_name(m.group(2)))
            if got:
                return PriceUnit(got[0], got[1], f"{m.group(0).strip()!r}{where} → {_fmt(got)}")
    return None


def price_unit(unit: str | None, name: str | None = None) -> PriceUnit | None:
    """What a price quoted per ``unit`` is for: a pack size stated in the unit (or, for a
    bare container word such as ``box``, in the product name), a counted or physical unit
    (``pcs``, ``2.5 kg``, ``м``); None when it cannot be told (no unit, a box of unknown size,
    a unit pint does not know)."""
    text = (unit or "").strip()
    if not text:
        return None
    found = _pack(text)
    if found:
        return found
    if _bare_pack(text):
        return _pack(name or "", " (in the name)")
    m = _N_UNIT.match(text)
    got = _to_base(_num(m.group(1)), _unit_name(m.group(2))) if m else None
    if not m:
        got = _to_base(1.0, _unit_name(text))
    if got is None:
        return None
    return PriceUnit(got[0], got[1], f"{text!r} → {_fmt(got)}")


def _bare_pack(text: str) -> bool:
    return bool(re.fullmatch(rf"(?:{_PACKS})\.?", text.strip(), re.I))


def _fmt(got: tuple[float, str]) -> str:
    amount, base = got
    shown = int(amount) if float(amount).is_integer() else round(amount, 6)
    return f"{shown} {base.replace('**2', '²')}"


def per_base(price: float | None, pu: PriceUnit | None) -> float | None:
    """The price of one base unit (``price / amount``); None when either is unknown."""
    if price is None or pu is None or pu.amount <= 0:
        return None
    return price / pu.amount
