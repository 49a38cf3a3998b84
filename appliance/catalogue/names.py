"""Product identity: normalised SKUs, names and brands, the keys an entry is found by, and
name similarity (rapidfuzz) with the reason a match was taken, in words.

A key is ``sku:<SKU>`` when the item has an article number, else ``name:<name>|<brand>``. The
normalisation is deliberately plain (case, accents, punctuation, word order, a few
abbreviations) so that a person can follow why two items were taken as one product.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

SKU_PREFIX = "sku:"
NAME_PREFIX = "name:"

_SKU_DROP = re.compile(r"[\s\-_./]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER_UNIT = re.compile(r"(\d)([^\W\d_])")  # "50mm" → "50 mm" (not "m8": a model)
# Spellings of one word that product names use interchangeably (EN/RU).
_SYNONYMS = {
    "pcs": "pc", "pieces": "pc", "piece": "pc", "шт": "pc", "штук": "pc",
    "mm": "mm", "мм": "mm", "cm": "cm", "см": "cm", "kg": "kg", "кг": "kg",
    "x": "x", "х": "x", "×": "x",
}  # fmt: skip


def norm_sku(sku: str | None) -> str | None:
    """An article number without case, spaces, dashes, dots, slashes: ``ab-12/3`` → ``AB123``."""
    if not sku:
        return None
    out = _SKU_DROP.sub("", unicodedata.normalize("NFKC", sku)).upper()
    return out or None


def _fold(text: str) -> str:
    """Lower case without accents (but keeping Cyrillic letters as they are)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_words(name: str | None) -> list[str]:
    """The words of a product name, folded and with known spellings unified, sorted."""
    text = _NUMBER_UNIT.sub(r"\1 \2", _fold(name or ""))
    words = [_SYNONYMS.get(w, w) for w in _WORD.findall(text)]
    return sorted(words)


def norm_name(name: str | None) -> str:
    """A product name as the keys compare it: folded words, sorted, one space apart."""
    return " ".join(name_words(name))


def norm_brand(brand: str | None) -> str:
    """A brand as the keys compare it (empty when none)."""
    return " ".join(_WORD.findall(_fold(brand or "")))


def item_key(name: str | None, sku: str | None, brand: str | None) -> str:
    """The key an item is found by within one supplier: its SKU, else its name and brand."""
    s = norm_sku(sku)
    if s:
        return SKU_PREFIX + s
    return f"{NAME_PREFIX}{norm_name(name)}|{norm_brand(brand)}"


def block_of(name: str | None) -> str:
    """The word a group is looked up by (its longest word; ties: the first in order): names
    that share no such word are never compared."""
    words = name_words(name)
    if not words:
        return ""
    return max(words, key=lambda w: (len(w), [-ord(c) for c in w]))


def similarity(a: str, b: str) -> float:
    """How close two normalised names are, 0..1 (rapidfuzz's token-sort ratio / 100)."""
    return float(fuzz.token_sort_ratio(a, b)) / 100.0


def _without(normalised: str, words: set[str]) -> str:
    return " ".join(w for w in normalised.split() if w not in words)


def _numbers(normalised: str) -> set[str]:
    """The words of a normalised name that hold a digit (sizes, sizes of packs, models)."""
    return {w for w in normalised.split() if any(c.isdigit() for c in w)}


@dataclass(frozen=True)
class Candidate:
    """An existing entry (or group) a new item may match: its id and what identifies it."""

    id: int
    name: str
    sku: str | None
    brand: str | None


@dataclass(frozen=True)
class NameMatch:
    """The best candidate by name similarity and why it was taken."""

    id: int
    score: float
    reason: str


def best_by_name(
    name: str,
    sku: str | None,
    brand: str | None,
    candidates: list[Candidate],
    threshold: float,
    blocked: set[int] | frozenset[int] = frozenset(),
) -> NameMatch | None:
    """The candidate whose name is closest to ``name`` at ``threshold`` or above, among those
    not ``blocked``, of the same brand (or either without one) and without a different SKU.
    None when nothing is close enough."""
    my_brand, my_sku = norm_brand(brand), norm_sku(sku)
    best: NameMatch | None = None
    for c in candidates:
        if c.id in blocked:
            continue
        their_sku, their_brand = norm_sku(c.sku), norm_brand(c.brand)
        if my_sku and their_sku and my_sku != their_sku:
            continue
        if my_brand and their_brand and my_brand != their_brand:
            continue
        drop = set(f"{my_brand} {their_brand}".split())  # "Tesa tape" is "tape" of Tesa
        mine, theirs = _without(norm_name(name), drop), _without(norm_name(c.name), drop)
        if _numbers(mine) != _numbers(theirs):  # M8 vs M10, 100 vs 200: other products
            continue
        score = similarity(mine, theirs)
        if score >= threshold and (best is None or score > best.score):
            why = f"name {name!r} close to {c.name!r} ({score:.2f} ≥ {threshold:.2f})"
            if my_brand and their_brand:
                why += f", same brand {brand!r}"
            best = NameMatch(c.id, score, why)
    return best
