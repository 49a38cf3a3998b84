"""Calendar dates: ``2026-12-31``, ``31.12.2026``, ``12/31/2026``, ``December 31, 2026``,
``31 Dec 2026``, ``31 декабря 2026``; role ``valid_until`` after "valid until", "действительно
до" and the like.

Explicit patterns, not ``dateparser``: its ``search_dates`` reads "may", "we" and phone numbers
as dates, costs ~50 ms on a 4 kB mail (and ~100 ms on first use), and gives no spans, while a
supplier's mail spells a validity date in one of a handful of ways, which the patterns below
read in microseconds. Slashed and dashed day/month orders are ambiguous: the US order
(month first) is taken unless the first number is over 12 (``31/12/2026``); dotted dates are
day first (``31.12.2026``), as in Europe and Russia.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from appliance.extract.readers.context import before, first_chars, trie
from appliance.extract.readers.types import DateValue

_EN_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_RU_MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
    "октября", "ноября", "декабря",
)  # fmt: skip
_RU_SHORT = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")
_MONTH_NUMBER: dict[str, int] = {}
for _i, _name in enumerate(_EN_MONTHS, 1):
    _MONTH_NUMBER[_name] = _i
    _MONTH_NUMBER[_name[:3]] = _i
    _MONTH_NUMBER[_RU_MONTHS[_i - 1]] = _i
    _MONTH_NUMBER[_RU_SHORT[_i - 1]] = _i
_MONTH_NUMBER["sept"] = 9
_MONTH = rf"(?P<mon>{trie(_MONTH_NUMBER)})(?:\.(?!\d)|(?![^\W\d_]))"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)(?!\d)"

# Named patterns, tried in this order; each gives year, month, day groups.
DATE_RE = re.compile(
    rf"(?=[\d{first_chars(_MONTH_NUMBER)}])(?<![\d.])(?:"
    r"(?P<iso>(?P<iy>(?:19|20)\d\d)[-/.](?P<im>[01]?\d)[-/.](?P<id>[0-3]?\d)(?![\d]|[.,]\d))"
    r"|(?P<dotted>(?=\d\d?\.\d\d?\.(?:19|20)\d\d|\d\d\.\d\d\.\d\d)(?P<dd>[0-3]?\d)\.(?P<dm>[01]?\d)\.(?P<dy>(?:19|20)\d\d|\d\d)(?![\d]|\.\d))"
    r"|(?P<slashed>(?P<s1>[01]?\d|[0-3]\d)(?P<sep>[/-])(?P<s2>[0-3]?\d)(?P=sep)"
    r"(?P<sy>(?:19|20)\d\d|\d\d)(?![\d/-]))"
    rf"|(?P<dmy>{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR})"
    rf"|(?P<mdy>{_MONTH.replace('mon>', 'mon2>')}\s+"
    r"(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<year2>(?:19|20)\d\d)(?!\d))"
    r")",
    re.IGNORECASE,
)
VALID_UNTIL_RE = re.compile(
    r"\bvalid(?:ity)?\b|\bgood\s+(?:until|till|through|thru)\b|\bexpir\w*|\bdeadline\b"
    r"|действительн\w*|действу\w*|срок\w*\s+действия|актуальн\w*|в\s+силе",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.;!?](?:\s|$)")


def _year(y: str) -> int:
    n = int(y)
    return n if len(y) == 4 else (2000 + n if n < 70 else 1900 + n)


def _ymd(m: re.Match[str]) -> tuple[int, int, int] | None:
    g = m.group
    if g("iso"):
        return int(g("iy")), int(g("im")), int(g("id"))
    if g("dotted"):
        return _year(g("dy")), int(g("dm")), int(g("dd"))
    if g("slashed"):
        a, b = int(g("s1")), int(g("s2"))
        month, day = (b, a) if a > 12 else (a, b)
        return _year(g("sy")), month, day
    if g("dmy"):
        return int(g("year")), _MONTH_NUMBER[g("mon").lower()], int(g("day"))
    if g("mdy"):
        return int(g("year2")), _MONTH_NUMBER[g("mon2").lower()], int(g("day2"))
    return None


def read_dates(text: str) -> list[DateValue]:
    out: list[DateValue] = []
    prev_end = 0
    for m in DATE_RE.finditer(text):
        ymd = _ymd(m)
        if ymd is None:
            continue
        try:
            iso = dt.date(*ymd).isoformat()
        except ValueError:
            continue
        context = before(text, m.start(), 60, prev_end)
        ends = list(_CLAUSE_END.finditer(context))
        clause = context[ends[-1].end() :] if ends else context
        role: Literal["valid_until", "other"] = (
            "valid_until" if VALID_UNTIL_RE.search(clause) else "other"
        )
        out.append(DateValue(m.start(), m.end(), m.group(), iso=iso, role=role))
        prev_end = m.end()
    return out
