"""Read the filled-in answer form (see ``compose``) from a supplier's reply.

The reply is untrusted text: a value is read only after a known label (either language, case
and parenthesised hint optional) and only when it parses unambiguously; anything else yields
no answer, never a guess. Every answer carries the span of its text in the input.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.extract.contract import (
    CURRENCIES,
    CURRENCY_ALIASES,
    LENGTH_ALIASES,
    LENGTH_UNITS,
    MAX_LEAD_DAYS,
    MAX_NAME,
    MAX_SHORT,
    MAX_TERMS,
    WEIGHT_ALIASES,
    WEIGHT_UNITS,
)
from appliance.extract.extra_values import BOOLEAN_WORDS, MAX_EXTRA_TEXT
from appliance.extract.fields import ExtraField
from appliance.workflow.labels import (
    CURRENCY_WORDS,
    DURATION_UNITS,
    EXTRA_LABELS,
    FIELD_LABELS,
    MONTHS,
    OFFER_FIELDS,
    PLACEHOLDERS,
    SUPPORTED_LANGUAGES,
    TEXTS,
)


@dataclass(frozen=True)
class Answer:
    """One value the supplier wrote after a label of the form."""

    number: int | None  # item number ("1."), None for offer-level fields and the offer block
    field: str  # canonical contract field
    value: Any  # typed value (see parse_answers)
    span: tuple[int, int]  # where ``raw`` is in the parsed text
    raw: str  # the value text as written


# label (lower case, without its parenthesised hint) -> field key
_LABELS: dict[str, str] = {
    re.sub(r"\s*\(.*?\)", "", label).lower(): key
    for labels in FIELD_LABELS.values()
    for key, label in labels.items()
} | EXTRA_LABELS


def _bare(label: str) -> str:
    return " ".join(re.sub(r"\s*\(.*?\)", "", label).lower().split())


@functools.lru_cache(maxsize=8)
def _grammar(extra: tuple[ExtraField, ...]) -> tuple[dict[str, str], re.Pattern[str]]:
    """Label → field key, and the pattern of a label line, with the extra fields' labels (any
    language, and the name) beside ours; ours win a clash."""
    labels = dict(_LABELS)
    for f in extra:
        names = [f.label(lang) for lang in SUPPORTED_LANGUAGES]
        for label in [*names, *(lbl for _, lbl in f.labels), f.name.replace("_", " ")]:
            labels.setdefault(_bare(label), f.key)
    alt = "|".join(
        r"\s+".join(map(re.escape, lbl.split())) for lbl in sorted(labels, key=len, reverse=True)
    )
    line = re.compile(
        rf"^\s*(?:[-*•]\s*)?(?P<label>{alt})\s*(?:\([^()]*\))?\s*[:：]\s*(?P<value>.*?)\s*$",
        re.IGNORECASE,
    )
    return labels, line


_ITEM_LINE = re.compile(r"^\s*(?P<n>\d{1,3})[.)]\s+\S")
_OFFER_ALT = "|".join(re.escape(t["offer_block"].rstrip(":")) for t in TEXTS.values())
_OFFER_LINE = re.compile(rf"^\s*(?:{_OFFER_ALT})\s*[:：]\s*$", re.IGNORECASE)

# A number: space/comma/dot-grouped thousands, or a plain number with an optional decimal part.
_NUM_RE = re.compile(
    r"(?<![\d.,])(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?"
    r"|\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)?)(?!\d)"
)
_WORD_RE = re.compile(r"US\$|[$€£¥₽₴₸₹]|[^\W\d_]+\.?|[\"']")
_NOISE_RE = re.compile(  # "per 1 pc", "за 1 шт.", "20% VAT": numbers that are not the value
    r"(?:\b(?:per|за)\s*|/\s*)1\s*[^\W\d_]+\.?|\d+(?:[.,]\d+)?\s*%", re.IGNORECASE
)
_MIN_RE = re.compile(r"\b(?:min|minimum|moq|мин\w*)\b", re.IGNORECASE)
_SEP = r"\s*[x×хХ*]\s*"
_UNIT = r"(?:[^\W\d_]+\.?|[\"'])"


def _dim(k: str) -> str:
    return rf"(?P<{k}>{_NUM_RE.pattern})\s*(?P<u{k}>{_UNIT})?"


_DIMS_RE = {2: re.compile(_dim("a") + _SEP + _dim("b")), 3: re.compile(_SEP.join(map(_dim, "abc")))}
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUM_DATE = re.compile(r"\b(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})\b")
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([^\W\d_]{3,})\.?,?\s+(\d{4})\b")
_MONTH_DAY = re.compile(r"\b([^\W\d_]{3,})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_STR_LIMITS = {
    "sku": MAX_SHORT, "brand": MAX_SHORT, "unit": 12, "incoterms": MAX_SHORT,
    "payment_terms": MAX_TERMS, "product_name": MAX_NAME,
}  # fmt: skip


def parse_answers(text: str, extra: Sequence[ExtraField] = ()) -> list[Answer]:
    """Every answer of the form in ``text`` (a reply with quoted lines removed), in order.

    A line ``"N. ..."`` starts item N; a line ``"Offer:"``/``"Предложение:"`` starts the
    offer block (number None). Label lines before any item header belong to item 1, and
    offer-level fields (valid_until, incoterms, payment_terms) always get number None. Values:
    float for prices and quantities, int days for lead_time_days, an ISO 4217 code for
    currency (a price written with a currency also yields a currency answer), a dict for
    dimensions and weight, ``YYYY-MM-DD`` for valid_until, the stripped text otherwise.
    ``extra``: the configured extra fields, read after their labels as their type
    (``extra.<name>`` answers; offer-level ones with number None).
    Lines starting with ``>`` are skipped; empty, placeholder and unreadable values are left out.
    """
    out: list[Answer] = []
    number: int | None = 1
    labels, label_line = _grammar(tuple(extra))
    extras = {f.key: f for f in extra}
    for start, line in _lines(text):
        if line.lstrip().startswith(">"):
            continue
        m = label_line.match(line)
        if m is None:
            if item := _ITEM_LINE.match(line):
                number = int(item["n"])
            elif _OFFER_LINE.match(line):
                number = None
            continue
        raw = m["value"]
        key = labels[" ".join(m["label"].lower().split())]
        f = extras.get(key)
        yes_no = f is not None and f.kind == "boolean" and bool(_read_extra(f, raw))
        if _is_placeholder(raw) and not yes_no:  # "no" answers a yes/no field
            continue
        base = start + m.start("value")
        offer_level = key in OFFER_FIELDS or (f is not None and f.level == "offer")
        target = None if offer_level else number
        found = _read(key, raw) if f is None else _read_extra(f, raw)
        for fld, value, (s, e) in found:
            out.append(Answer(target, fld, value, (base + s, base + e), raw[s:e]))
    return out


def _lines(text: str) -> Iterator[tuple[int, str]]:
    pos = 0
    for chunk in text.splitlines(keepends=True):
        yield pos, (chunk.splitlines() or [""])[0]
        pos += len(chunk)


def _is_placeholder(raw: str) -> bool:
    s = raw.strip().lower().rstrip(".!")
    return not re.sub(r"[\s?\-—–_.]", "", s) or s in PLACEHOLDERS


def _read(key: str, raw: str) -> list[tuple[str, Any, tuple[int, int]]]:
    """(field, value, span within raw) for one label's value; empty when it does not parse."""
    whole = (0, len(raw))
    if key in ("unit_price", "total_price"):
        num = _single_number(_NOISE_RE.sub(lambda m: " " * len(m.group()), raw), "thousands")
        curs = _currencies(raw)
        if num is None or len({c for c, _ in curs}) > 1:
            return []
        extra = [("currency", curs[0][0], curs[0][1])] if curs else []
        return [(key, num, whole), *extra]
    if key == "currency":
        curs = _currencies(raw)
        return [(key, curs[0][0], whole)] if len({c for c, _ in curs}) == 1 else []
    if key in ("quantity", "moq", "quantity|moq"):
        num = _single_number(raw, "thousands")
        if key == "quantity|moq":
            key = "moq" if _MIN_RE.search(raw) else "quantity"
        return [] if num is None else [(key, num, whole)]
    parsers = {
        "lead_time_days": _lead_time, "dimensions": _dimensions, "weight": _weight,
        "valid_until": _date,
    }  # fmt: skip
    if key in parsers:
        value = parsers[key](raw)
        return [] if value is None else [(key, value, whole)]
    value = " ".join(raw.split())
    return [(key, value, whole)] if len(value) <= _STR_LIMITS.get(key, MAX_TERMS) else []


def _read_extra(f: ExtraField, raw: str) -> list[tuple[str, Any, tuple[int, int]]]:
    """(key, value, span) of an extra field's answer, read as its type; empty when it does not
    parse."""
    value: Any
    if f.numeric:
        value = _single_number(raw, "thousands")
        if f.kind == "integer" and value is not None:
            value = int(value) if value.is_integer() else None
    elif f.kind == "date":
        value = _date(raw)
    elif f.kind == "boolean":
        words = _words(raw)
        value = f.coerce(words[0]) if len(words) == 1 and words[0] in BOOLEAN_WORDS else None
    else:
        value = " ".join(raw.split())
        value = value if len(value) <= MAX_EXTRA_TEXT else None
    return [] if value is None else [(f.key, value, (0, len(raw)))]


def _to_float(tok: str, group3: str) -> float | None:
    """A number token as float. A single separator followed by exactly three digits (``1,250``,
    ``1.250``) is a thousands separator when ``group3 == "thousands"``, else ambiguous."""
    t = re.sub(r"[ \u00a0\u202f]", "", tok)
    if "," in t and "." in t:
        dec = "," if t.rfind(",") > t.rfind(".") else "."
        t = t.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif t.count(",") + t.count(".") > 1:
        t = t.replace(",", "").replace(".", "")  # 1.250.000 / 1,250,000
    elif re.fullmatch(r"[1-9]\d{0,2}[.,]\d{3}", t):
        if group3 != "thousands":
            return None
        t = t.replace(",", "").replace(".", "")
    else:
        t = t.replace(",", ".")
    return float(t)


def _single_number(raw: str, group3: str) -> float | None:
    nums = _NUM_RE.findall(raw)
    return _to_float(nums[0], group3) if len(nums) == 1 else None


def _currencies(raw: str) -> list[tuple[str, tuple[int, int]]]:
    found = []
    for m in _WORD_RE.finditer(raw):
        tok = m.group()
        word = tok.lower().rstrip(".") or tok
        iso = CURRENCY_ALIASES.get(tok.lower()) or CURRENCY_ALIASES.get(word)
        if iso is None and tok.rstrip(".").isupper() and tok.rstrip(".") in CURRENCIES:
            iso = tok.rstrip(".")
        if iso is None:
            iso = next((c for p, c in CURRENCY_WORDS if p.fullmatch(word)), None)
        if iso is not None:
            found.append((iso, m.span()))
    return found


def _words(raw: str) -> list[str]:
    return [w.lower().rstrip(".") for w in _WORD_RE.findall(raw)]


def _lead_time(raw: str) -> int | None:
    """Days; weeks x 7, months x 30, no unit = days; a range (10-14) gives its upper bound."""
    nums = _NUM_RE.findall(raw)
    is_range = len(nums) == 2 and re.search(r"\d\s*(?:-|–|—|до|to)\s*\d", raw)
    if not (len(nums) == 1 or is_range):
        return None
    factors = {f for w in _words(raw) for p, f in DURATION_UNITS if p.fullmatch(w)}
    if len(factors) > 1:
        return None
    values = [_to_float(n, "thousands") for n in nums]
    if any(v is None for v in values):
        return None
    days = math.ceil(max(v for v in values if v is not None) * (factors.pop() if factors else 1))
    return days if days <= MAX_LEAD_DAYS else None


def _unit(tokens: list[str | None], aliases: dict[str, str], units: tuple[str, ...]) -> str | None:
    found = set()
    for tok in tokens:
        if tok is not None:
            w = tok.lower() if tok in "\"'" else tok.lower().rstrip(".")
            found.add(w if w in units else aliases.get(w))
    return found.pop() if len(found) == 1 and None not in found else None


def _dimensions(raw: str) -> dict[str, Any] | None:
    n = len(_NUM_RE.findall(raw))
    m = _DIMS_RE[n].search(raw) if n in _DIMS_RE else None
    if m is None:
        return None
    groups = m.groupdict()
    unit = _unit([groups.get(f"u{k}") for k in "abc"], LENGTH_ALIASES, LENGTH_UNITS)
    sizes = [_to_float(groups[k], "reject") if groups.get(k) else None for k in "abc"]
    if unit is None or None in sizes[:n]:
        return None
    return {"length": sizes[0], "width": sizes[1], "height": sizes[2], "unit": unit}


def _weight(raw: str) -> dict[str, Any] | None:
    m = re.search(rf"({_NUM_RE.pattern})\s*({_UNIT})", raw)
    if m is None or len(_NUM_RE.findall(raw)) != 1:
        return None
    value = _to_float(m[1], "reject")
    unit = _unit([m[2]], WEIGHT_ALIASES, WEIGHT_UNITS)
    return None if value is None or unit is None else {"value": value, "unit": unit}


def _month(word: str) -> int | None:
    w = word.lower()
    return next((n for p, n in MONTHS if w.startswith(p)), None)


def _date(raw: str) -> str | None:
    """ISO, d.m.y, d/m/y or m/d/y where unambiguous, "31 March 2026", "March 31, 2026"."""
    ymd: tuple[int, int | None, int] | None = None
    if m := _ISO_DATE.search(raw):
        ymd = (int(m[1]), int(m[2]), int(m[3]))
    elif m := _NUM_DATE.search(raw):
        a, b, y = int(m[1]), int(m[3]), int(m[4])
        y += 2000 if y < 100 else 0
        if m[2] == "." or a > 12 or a == b:
            ymd = (y, b, a)
        elif b > 12:
            ymd = (y, a, b)
    elif m := _DAY_MONTH.search(raw):
        ymd = (int(m[3]), _month(m[2]), int(m[1]))
    elif m := _MONTH_DAY.search(raw):
        ymd = (int(m[3]), _month(m[1]), int(m[2]))
    if ymd is None or ymd[1] is None or not 2000 <= ymd[0] <= 2099:
        return None
    try:
        return dt.date(ymd[0], ymd[1], ymd[2]).isoformat()
    except ValueError:
        return None
