"""Evidence check: a value the mail text does not contain is not a value the mail states.

The contract says values are what the mail says, never guessed; a small model under a grammar
fills every field it is allowed to. After normalisation, each scalar value is looked for in the
mail (subject, sender and cleaned text): numbers in any usual spelling (``1 250,50``,
``1,250.50``, ``1250.5``), strings case- and space-insensitively, currencies by code or symbol,
lead times as days or weeks. What is not found is set to null and reported, so nothing the
model invented is stored as data. Extra fields (``[[extraction.fields]]``) are checked by their
value: text like the other strings, numbers like the other numbers, ISO dates like valid_until;
a yes/no cannot be looked for and is kept.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from appliance.extract.contract import CURRENCY_ALIASES, Offer
from appliance.extract.fields import EXTRA, OFFER_VALUES
from appliance.extract.readers.numbers import parse_measure

# Dates are not quantities: their parts (2026, 12) must not vouch for a price or a lead time.
_DATE_RE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"
    r"|\b\d{1,2}:\d{2}(:\d{2})?\b"
)
# Digits with thousands/decimal separators inside one line ("1 250,50"); never across a line
# break, where "13.52" ending one line and "2. Hex nut" starting the next are two numbers.
# A number with its separators; a blank only as a thousands separator ("1 250,50"), so that
# columns ("54.00\t77120045", "2  $12.50") stay apart.
_NUM_RE = re.compile(r"\d(?:[\d.,']|[ \u00a0\u202f](?=\d{3}(?!\d)))*\d|\d")


_FRACTION_TOKEN = re.compile(r"(?:\d+[ -])?\d+/\d+(?![\d/])|\d+[½¼¾⅛⅜⅝⅞]")


def _norm_text(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", s).casefold().split())


def _number_tokens(text: str) -> list[tuple[int, int, set[float]]]:
    """Each number the text spells, with its span and every value it may mean (dates and times
    left out; both decimal conventions where ambiguous)."""
    out: list[tuple[int, int, set[float]]] = []
    blanked = _DATE_RE.sub(lambda m: " " * len(m.group()), text)  # keeps offsets
    for m in _NUM_RE.finditer(blanked):
        tok = re.sub(r"[ \t'\u00a0\u202f]", "", m.group()).strip(".,")
        candidates = {tok.replace(",", ""), tok.replace(".", "").replace(",", ".")}
        if tok.count(",") == 1 and "." not in tok:
            candidates.add(tok.replace(",", "."))
        for part in re.split(r"[^\d.]", tok):  # 120x60 is caught by the regex; keep pieces too
            candidates.add(part)
        values: set[float] = set()
        for c in candidates:
            try:
                values.add(round(float(c), 6))
            except ValueError:
                continue
        end = m.end() - (len(m.group()) - len(m.group().rstrip(".,' \t\n\u00a0\u202f")))
        out.append((m.start(), end, values))
    return out


def numbers_in(text: str) -> set[float]:
    """Every number the text spells (dates and times left out), read with both decimal
    conventions where ambiguous, and inch fractions (``8-1/2``, ``8 1/2``, ``7/16``)."""
    return {v for _, _, values in _all_number_tokens(text) for v in values}


def _all_number_tokens(text: str) -> list[tuple[int, int, set[float]]]:
    """``_number_tokens`` and the inch fractions, in text order."""
    out = _number_tokens(text)
    for m in _FRACTION_TOKEN.finditer(text):
        if (v := parse_measure(m.group())) is not None:
            out.append((m.start(), m.end(), {round(v, 6)}))
    return sorted(out, key=lambda t: t[0])


def locate(field: str, value: Any, text: str) -> tuple[int, int] | None:
    """Where in ``text`` the mail states ``value`` of ``field`` (a contract field name): the
    span of the first match, or None. Provenance for the dashboard and the API."""
    if value is None:
        return None
    if field == "currency":
        words = [value, *(sym for sym, iso in CURRENCY_ALIASES.items() if iso == value)]
        return _first_word(text, words)
    if field == "dimensions" and isinstance(value, dict):
        value = next((value[a] for a in ("length", "width", "height") if value.get(a)), None)
        field = "number"
    if field == "weight" and isinstance(value, dict):
        value, field = value.get("value"), "number"
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        wanted = {round(float(value), 6)}
        if field == "lead_time_days" and int(value) % 7 == 0:
            wanted.add(round(float(value) / 7, 6))
        for start, end, values in _all_number_tokens(text):
            if values & wanted:
                return start, end
        return None
    parts = [re.escape(w) for w in str(value).split()]
    if not parts:
        return None
    m = re.search(r"\s+".join(parts), text, re.IGNORECASE)
    return (m.start(), m.end()) if m else None


def _first_word(text: str, words: list[str]) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    low = text.casefold()
    for w in words:
        i = low.find(w.casefold())
        if i >= 0 and (best is None or i < best[0]):
            best = (i, i + len(w))
    return best


class Evidence:
    """The searchable forms of one mail."""

    def __init__(self, *parts: str) -> None:
        joined = "\n".join(p for p in parts if p)
        self.text = _norm_text(joined)
        self.compact = re.sub(r"[\s\-_./]", "", self.text)
        self.numbers = numbers_in(joined)

    def has_number(self, v: float | None) -> bool:
        return v is None or round(float(v), 6) in self.numbers

    def has_string(self, v: str | None) -> bool:
        if v is None:
            return True
        n = _norm_text(v)
        if len(n) <= 3:  # "m", "EXW": only as a word of its own, never inside another word
            return re.search(rf"(?<!\w){re.escape(n)}(?!\w)", self.text) is not None
        return n in self.text or re.sub(r"[\s\-_./]", "", n) in self.compact

    def has_currency(self, code: str | None) -> bool:
        if code is None:
            return True
        if code.casefold() in self.text:
            return True
        return any(sym in self.text for sym, iso in CURRENCY_ALIASES.items() if iso == code)

    def has_lead_time(self, days: int | None) -> bool:
        return (
            days is None or self.has_number(days) or (days % 7 == 0 and self.has_number(days // 7))
        )


def check_evidence(offer: Offer, ev: Evidence) -> tuple[Offer, list[str]]:
    """Null every value not found in the mail; return the cleaned offer and what was dropped."""
    dropped: list[str] = []
    data: dict[str, Any] = offer.model_dump()

    def keep(path: str, ok: bool) -> bool:
        if not ok:
            dropped.append(path)
        return ok

    for key in OFFER_VALUES:
        v = data[key]
        ok = v is None or (ev.has_string(v) if key != "valid_until" else _date_in(v, ev))
        if ok and key == "incoterms" and v is not None:
            ok = bool(_INCOTERMS.search(v))  # a trade term names one of the rules
        if not keep(key, ok):
            data[key] = None
    _check_extra(data, "", ev, keep)
    sup = data["supplier"]
    for key in ("name", "email"):
        if not keep(f"supplier.{key}", ev.has_string(sup[key])):
            sup[key] = None
    items = []
    for i, it in enumerate(data["items"]):
        p = f"items[{i}]"
        if not ev.has_string(it["product_name"]) and not _tokens_in(it["product_name"], ev):
            dropped.append(f"{p}.product_name")
            continue  # an item whose product the mail does not name is not an item
        for key in ("sku", "brand", "unit"):
            if not keep(f"{p}.{key}", ev.has_string(it[key])):
                it[key] = None
        if it["brand"] and _norm_text(it["brand"]) == _norm_text(it["product_name"]):
            dropped.append(f"{p}.brand")  # the model copied the product name
            it["brand"] = None
        for key in ("quantity", "unit_price", "total_price", "moq"):
            if not keep(f"{p}.{key}", ev.has_number(it[key])):
                it[key] = None
        if not keep(f"{p}.currency", ev.has_currency(it["currency"])):
            it["currency"] = None
        if not keep(f"{p}.lead_time_days", ev.has_lead_time(it["lead_time_days"])):
            it["lead_time_days"] = None
        dims = it["dimensions"]
        if dims is not None:
            for axis in ("length", "width", "height"):
                if not keep(f"{p}.dimensions.{axis}", ev.has_number(dims[axis])):
                    dims[axis] = None
            if all(dims[a] is None for a in ("length", "width", "height")):
                it["dimensions"] = None
        w = it["weight"]
        if w is not None and not keep(f"{p}.weight", ev.has_number(w["value"])):
            it["weight"] = None
        _check_extra(it, f"{p}.", ev, keep)
        items.append(it)
    data["items"] = items
    return Offer.model_validate(data), dropped


def _check_extra(record: dict[str, Any], prefix: str, ev: Evidence, keep: Any) -> None:
    """Null the extra values of an item or the offer that the mail does not state."""
    extra = record.get(EXTRA) or {}
    for name, v in list(extra.items()):
        if isinstance(v, bool) or v is None:
            ok = True  # a yes/no has no spelling to look for
        elif isinstance(v, int | float):
            ok = ev.has_number(v)
        elif _ISO_DATE.fullmatch(v):
            ok = _date_in(v, ev)
        else:
            ok = ev.has_string(v)
        if not keep(f"{prefix}{EXTRA}.{name}", ok):
            extra[name] = None


def kept_items(count: int, dropped: list[str]) -> list[int]:
    """For each item ``check_evidence`` kept, its position before the check (an item is
    removed exactly when its ``items[i].product_name`` is in ``dropped``)."""
    removed = {int(m.group(1)) for d in dropped if (m := _REMOVED_RE.fullmatch(d))}
    return [i for i in range(count) if i not in removed]


def unfound_values(before: Offer, dropped: list[str]) -> dict[str, Any]:
    """Path → value of what ``check_evidence`` nulled because the mail does not state it.

    Paths of kept items use their position after the check; an item removed whole is
    ``removed_items[j].product_name`` (j counts removed items). A brand nulled because the
    model copied the product name into it is stated in the mail, so it is not listed.
    """
    data = before.model_dump()
    kept = {old: new for new, old in enumerate(kept_items(len(data["items"]), dropped))}
    out: dict[str, Any] = {}
    removed = 0
    for path in dropped:
        m = _ITEM_RE.fullmatch(path)
        if m is None:  # "valid_until", "supplier.name"
            head, _, key = path.partition(".")
            out[path] = data[head][key] if key else data[head]
            continue
        pos, rest = int(m.group(1)), m.group(2)
        item = data["items"][pos]
        if pos not in kept:
            out[f"removed_items[{removed}].product_name"] = item["product_name"]
            removed += 1
            continue
        value: Any = item
        for key in rest.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if rest == "brand" and _norm_text(str(value)) == _norm_text(item["product_name"]):
            continue
        out[f"items[{kept[pos]}].{rest}"] = value
    return out


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_REMOVED_RE = re.compile(r"items\[(\d+)\]\.product_name")
_ITEM_RE = re.compile(r"items\[(\d+)\]\.(.+)")
_INCOTERMS = re.compile(
    r"\b(EXW|FCA|FAS|FOB|CFR|CIF|CPT|CIP|DAP|DPU|DDP|DAT|DAF|DES|DEQ|DDU|C&F|CNF)\b", re.IGNORECASE
)


def _tokens_in(name: str, ev: Evidence) -> bool:
    """At least half of the name's words (of 3+ letters) occur in the mail."""
    words = re.findall(r"\w{3,}", _norm_text(name))
    return bool(words) and sum(w in ev.text for w in words) * 2 >= len(words)


def _date_in(iso: str, ev: Evidence) -> bool:
    y, m, d = iso.split("-")
    if iso in ev.text:
        return True
    day, month = str(int(d)), str(int(m))
    pats = [
        rf"\b0?{day}[./-]0?{month}[./-]({y}|{y[2:]})\b",
        rf"\b0?{month}/0?{day}/({y}|{y[2:]})\b",
    ]
    if any(re.search(p, ev.text) for p in pats):
        return True
    names = _MONTHS[int(m) - 1]
    return y in ev.text and any(
        re.search(rf"\b0?{day}(st|nd|rd|th)?\s+{n}|{n}\w*\s+0?{day}\b", ev.text) for n in names
    )


_MONTHS = [
    ("jan", "январ", "янв"), ("feb", "феврал", "фев"), ("mar", "март", "мар"),
    ("apr", "апрел", "апр"), ("may", "мая", "май"), ("jun", "июн"), ("jul", "июл"),
    ("aug", "август", "авг"), ("sep", "сентябр", "сен"), ("oct", "октябр", "окт"),
    ("nov", "ноябр", "ноя"), ("dec", "декабр", "дек"),
]  # fmt: skip
