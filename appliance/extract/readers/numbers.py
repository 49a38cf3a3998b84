"""Numbers as mails spell them: both decimal conventions, thousands separators, fractions.

``NUMBER`` is a regex fragment (no groups) that matches one number token:

- comma thousands, dot decimals: ``1,250.50``, ``2,000``;
- dot thousands, comma decimals: ``1.234,56``, ``1.234.567``;
- space-like or apostrophe thousands: ``1 250,50``, ``1 250`` (NBSP, narrow NBSP, thin space),
  ``1'250.50``;
- plain: ``85,50``, ``12.40``, ``500``.

A single separator followed by exactly three digits is ambiguous. A comma is taken as a
thousands separator (``2,000`` → 2000), a dot as the decimal point (``1.250`` → 1.25), the
usual English reading; ``0,125`` stays 0.125.

``FRACTION_NUMBER`` adds the inch spellings of measures: ``7/16``, ``28-1/8``, ``8 1/2``,
``8½``; ``parse_measure`` reads them.
"""

from __future__ import annotations

import re

from appliance.extract.readers.context import guard, trie

# Characters used between thousands groups (space, NBSP, narrow NBSP, thin space, apostrophes).
THOUSANDS_SPACES = " \u00a0\u202f\u2009'\u2019"
_GROUP_SEP = "[ \u00a0\u202f\u2009'\u2019]"

# Not inside a word or another number; "NF-3190" and "1/2" do not start a number at "3190"/"2".
_NOT_INSIDE = r"(?<![\w.,/])(?<!\w-)"
# NUMBER_BODY has no look-behind: for the second number of "60x40", "1200х600" (Cyrillic х).
NUMBER_BODY = (
    r"(?:"
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])"  # 1,250.50  2,000
    r"|\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\d.])"  # 1.234,56  1.234.567
    rf"|\d{{1,3}}(?:{_GROUP_SEP}\d{{3}})+(?:[.,]\d+)?(?!\d)"  # 1 250,50  1'250.50
    r"|\d+(?:[.,]\d+)?(?!\d)"  # 85,50  12.40  500
    r")"
)
# The (?=\d) guard first: the cheapest test to fail on, before the look-behinds.
NUMBER = r"(?=\d)" + _NOT_INSIDE + NUMBER_BODY
NUMBER_RE = re.compile(NUMBER)

_VULGAR = {"½": 0.5, "¼": 0.25, "¾": 0.75, "⅛": 0.125, "⅜": 0.375, "⅝": 0.625, "⅞": 0.875}
# 28-1/8, 8 1/2, 7/16, 8½ (fractions first, then any NUMBER).
FRACTION_BODY = (
    r"(?:(?:\d+[ -])?\d+/\d+(?![\d/])|\d+[½¼¾⅛⅜⅝⅞]|[½¼¾⅛⅜⅝⅞]"
    rf"|{NUMBER_BODY})"
)
FRACTION_NUMBER = r"(?=[\d½¼¾⅛⅜⅝⅞])" + _NOT_INSIDE + FRACTION_BODY
_FRACTION_RE = re.compile(r"(?:(\d+)[ -])?(\d+)/(\d+)")

# Small numbers spelled as words (lead times: "two weeks", "две недели").
NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
    "twenty": 20, "thirty": 30,
    "один": 1, "одна": 1, "одну": 1, "одного": 1, "два": 2, "две": 2, "двух": 2, "три": 3,
    "трёх": 3, "трех": 3, "четыре": 4, "четырёх": 4, "четырех": 4, "пять": 5, "пяти": 5,
    "шесть": 6, "шести": 6, "семь": 7, "семи": 7, "восемь": 8, "восьми": 8, "девять": 9,
    "десять": 10, "десяти": 10, "четырнадцать": 14, "пятнадцать": 15, "двадцать": 20,
    "тридцать": 30,
}  # fmt: skip
NUMBER_WORD = rf"(?:{trie(NUMBER_WORDS)})"
# Guard for a number that may be spelled as a word: a digit or a number word's first letters.
NUMBER_OR_WORD_GUARD = guard({w[:3] for w in NUMBER_WORDS}, r"\d")


def parse_number(token: str) -> float | None:
    """The value of one number token (see the module docstring for ambiguous separators)."""
    s = token.strip()
    for ch in THOUSANDS_SPACES:
        s = s.replace(ch, "")
    if not s or not s[0].isdigit():
        return None
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if decimal == "," else ",", "").replace(decimal, ".")
    elif "," in s:
        head, _, tail = s.rpartition(",")
        if s.count(",") > 1 or (len(tail) == 3 and head != "0"):
            s = s.replace(",", "")  # 2,000 = 2000; 1,234,567
        else:
            s = s.replace(",", ".")  # 85,50 = 85.5
    elif s.count(".") > 1:
        s = s.replace(".", "")  # 1.234.567
    try:
        return float(s)
    except ValueError:
        return None


def parse_measure(token: str) -> float | None:
    """A NUMBER or an inch fraction: ``7/16`` → 0.4375, ``28-1/8`` → 28.125, ``8 1/2`` → 8.5,
    ``8½`` → 8.5."""
    s = token.strip()
    if s and s[-1] in _VULGAR:
        whole = s[:-1].strip()
        return (float(whole) if whole else 0.0) + _VULGAR[s[-1]]
    m = _FRACTION_RE.fullmatch(s)
    if m:
        whole, num, den = m.group(1), int(m.group(2)), int(m.group(3))
        if den == 0:
            return None
        return (int(whole) if whole else 0) + num / den
    return parse_number(s)


def is_fraction(token: str) -> bool:
    """Whether a measure token is spelled as a fraction (an imperial spelling)."""
    return "/" in token or any(ch in _VULGAR for ch in token)
