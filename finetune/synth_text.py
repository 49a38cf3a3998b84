"""Spelling of values in synthetic mails: numbers, prices, dates, lead times, sizes, weights.

Every function returns the text as the mail writes it; the caller keeps the value it was given
as the label. Numbers are written so that ``appliance.extract.evidence`` reads them back (the
generator checks this for every mail).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

# Number styles: en 1,250.50 | en_plain 1250.50 | ru 1 250,50 | ru_plain 1250,50 | eu 1.250,50
NUM_STYLES_EN = ("en", "en", "en", "en_plain", "eu")
NUM_STYLES_RU = ("ru", "ru", "ru", "ru_plain", "ru_nbsp")

MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MONTHS_RU_GEN = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def num(x: float) -> int | float:
    """A label number: an int when integral (500, not 500.0), else the float."""
    return int(x) if float(x).is_integer() else float(x)


def fmt_num(x: float, dec: int, style: str) -> str:
    """``x`` with ``dec`` decimals in a number style (see ``NUM_STYLES_*``)."""
    s = f"{x:,.{dec}f}"
    if style == "en":
        return s
    if style == "en_plain":
        return s.replace(",", "")
    if style == "eu":
        return s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    sep = {"ru": " ", "ru_nbsp": "\u00a0", "ru_plain": ""}[style]
    return s.replace(",", sep).replace(".", ",")


def ru_plural(n: int, forms: tuple[str, str, str]) -> str:
    """Russian noun form after the number ``n``: (1 день, 2 дня, 5 дней)."""
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms[1]
    return forms[2]


def price_decimals(value: float, currency: str, rng: random.Random) -> int:
    """Decimals a supplier would print for a unit price."""
    if value < 0.1:
        return 4 if value < 0.01 else 3
    if currency == "RUB" and value >= 100:
        return rng.choice((0, 2))
    return 2


def money(value: float, dec: int, style: str, currency: str, form: str) -> str:
    """A price with its currency in one of the usual forms.

    ``form``: "sym_pre" ($4.20), "sym_post" (4,20 €), "code_pre" (USD 12.00), "code_post"
    (4.20 EUR), "rub_abbr" (120 руб.), "rub_word" (120 рублей, integers only), "rub_p" (120 р.).
    """
    n = fmt_num(value, dec, style)
    sym = {"USD": "$", "EUR": "€", "GBP": "£", "RUB": "₽"}.get(currency, currency)
    if form == "sym_pre":
        return f"{sym}{n}"
    if form == "sym_post":
        return f"{n} {sym}"
    if form == "code_pre":
        return f"{currency} {n}"
    if form == "rub_abbr":
        return f"{n} руб."
    if form == "rub_word":
        return f"{n} " + ru_plural(int(value), ("рубль", "рубля", "рублей"))
    if form == "rub_p":
        return f"{n} р."
    return f"{n} {currency}"


def money_forms(lang: str, currency: str, encodable: str) -> list[str]:
    """The currency forms usable for ``currency`` in a mail (``encodable``: sample symbols the
    charset can hold, e.g. "$€£₽")."""
    sym = {"USD": "$", "EUR": "€", "GBP": "£", "RUB": "₽"}[currency]
    forms = ["code_post", "code_pre"]
    if sym in encodable:  # $4.20 and £4.20 before, 4,20 € and 120 ₽ after (€4.20 too)
        forms += {"USD": ["sym_pre"], "GBP": ["sym_pre"], "EUR": ["sym_pre", "sym_post"]}.get(
            currency, ["sym_post"]
        )
    if currency == "RUB":
        forms = ["code_post", *forms[2:], "rub_abbr", "rub_abbr", "rub_word", "rub_p"]
    if lang == "en" and currency == "USD" and "$" in encodable:
        forms += ["sym_pre", "sym_pre"]
    return forms


def fmt_date(d: dt.date, lang: str, rng: random.Random) -> str:
    """A date in one of the spellings people write (all read back by the evidence check)."""
    if lang == "ru":
        style = rng.choice(("dmy", "dmy", "dmy_g", "words", "words_g", "iso", "dmy2"))
        if style == "dmy":
            return d.strftime("%d.%m.%Y")
        if style == "dmy_g":
            return d.strftime("%d.%m.%Y") + " г."
        if style == "dmy2":
            return d.strftime("%d.%m.%y")
        if style == "iso":
            return d.isoformat()
        words = f"{d.day} {MONTHS_RU_GEN[d.month - 1]} {d.year}"
        return words + (" г." if style == "words_g" else "")
    style = rng.choice(("iso", "d_month", "month_d", "mon_d", "d_mon", "dmy", "us"))
    month = MONTHS_EN[d.month - 1]
    if style == "us" and d.day <= 12:
        style = "d_month"  # 05/06/2026 is ambiguous: never written
    if style == "iso":
        return d.isoformat()
    if style == "d_month":
        return f"{d.day} {month} {d.year}"
    if style == "month_d":
        return f"{month} {d.day}, {d.year}"
    if style == "mon_d":
        return f"{month[:3]} {d.day}, {d.year}"
    if style == "d_mon":
        return f"{d.day} {month[:3]} {d.year}"
    if style == "dmy":
        return d.strftime("%d.%m.%Y")
    return d.strftime("%m/%d/%Y")


def lead_time(rng: random.Random) -> tuple[int, str, int]:
    """(days, kind, count): kind "weeks", "days", "work" (working days) or "cal"."""
    kind = rng.choice(("weeks", "weeks", "days", "work", "cal"))
    if kind == "weeks":
        n = rng.choice((1, 2, 2, 3, 3, 4, 5, 6, 8))
        return 7 * n, kind, n
    n = rng.choice((2, 3, 5, 7, 10, 10, 12, 14, 15, 20, 21, 25, 30, 45))
    return n, kind, n


def fmt_lead(kind: str, n: int, lang: str, *, genitive: bool = False) -> str:
    """A lead time as words: "2 weeks", "10 working days", "3 недели", "10 рабочих дней".

    ``genitive``: Russian after "в течение" (3 недель, 1 рабочего дня).
    """
    if lang == "en":
        word = {"weeks": "week", "days": "day", "work": "working day", "cal": "calendar day"}[kind]
        if kind == "work" and n % 2:
            word = "business day"
        return f"{n} {word}{'' if n == 1 else 's'}"
    if kind == "weeks":
        forms = ("недели", "недель", "недель") if genitive else ("неделя", "недели", "недель")
        return f"{n} {ru_plural(n, forms)}"
    if genitive:
        noun = ru_plural(n, ("дня", "дней", "дней"))
        adjs = {"work": ("рабочего", "рабочих"), "cal": ("календарного", "календарных")}
    else:
        noun = ru_plural(n, ("день", "дня", "дней"))
        adjs = {"work": ("рабочий", "рабочих"), "cal": ("календарный", "календарных")}
    if kind == "days":
        return f"{n} {noun}"
    one, many = adjs[kind]
    return f"{n} {ru_plural(n, (one, many, many))} {noun}"


_LEN_WORD = {"en": {"mm": "mm", "cm": "cm", "m": "m"}, "ru": {"mm": "мм", "cm": "см", "m": "м"}}


def dims_text(
    mm: tuple[float | None, float | None, float | None],
    lang: str,
    style: str,
    rng: random.Random,
    encodable: str,
) -> tuple[str, dict[str, Any], str]:
    """Dimensions given in mm → (text, label, prefix) in a unit the text picks (axes not
    converted back: "120 x 80 cm" is labelled 120, 80, cm); ``prefix`` ("LxWxH ", "Д×Ш×В: ",
    often "") is for a text where no key or sentence says what the numbers are."""
    axes = [a for a in mm if a is not None]
    units = ["mm"]
    if all(a % 10 == 0 for a in axes):
        units += ["cm", "cm"]
    if all(a % 100 == 0 for a in axes):
        units += ["m"]
    unit = rng.choice(units)
    div = {"mm": 1, "cm": 10, "m": 1000}[unit]
    vals = [None if a is None else a / div for a in mm]
    label = {"length": vals[0], "width": vals[1], "height": vals[2], "unit": unit}
    label = {k: (num(v) if isinstance(v, float) else v) for k, v in label.items()}
    dec_sep = "," if style.startswith("ru") or style == "eu" else "."
    shown = [None if v is None else f"{num(v)}".replace(".", dec_sep) for v in vals]
    word = _LEN_WORD[lang][unit]
    if vals[1] is None and vals[2] is None:  # a length only
        forms = (
            ("L {v} {u}", "L = {v} {u}", "length {v} {u}", "Length: {v} {u}")
            if lang == "en"
            else ("L {v} {u}", "длина {v} {u}", "длина: {v} {u}", "L = {v} {u}")
        )
        return rng.choice(forms).format(v=shown[0], u=word), label, ""
    seps = ["x", " x "] + (["×"] if "×" in encodable else []) + (["х", "х"] if lang == "ru" else [])
    sep = rng.choice(seps)
    body = sep.join(s for s in shown if s is not None)
    glue = rng.choice(("", " ")) if unit != "m" else " "
    text = f"{body}{glue}{word}"
    if vals[2] is None:
        return text, label, ""
    pre = (
        rng.choice(("", "", "LxWxH ", "L×W×H: " if "×" in encodable else "LxWxH: "))
        if lang == "en"
        else rng.choice(("", "", "ДхШхВ ", "Д×Ш×В: " if "×" in encodable else "ДхШхВ: "))
    )
    if rng.random() < 0.2:  # axes named one by one
        names = ("length", "width", "height") if lang == "en" else ("длина", "ширина", "высота")
        return ", ".join(f"{n} {s} {word}" for n, s in zip(names, shown, strict=True)), label, ""
    return text, label, pre


def weight_text(
    lo: float, hi: float, unit: str, lang: str, style: str, rng: random.Random
) -> tuple[str, dict[str, Any]]:
    """A weight drawn in [lo, hi] of ``unit`` ("kg"/"g") → (text, label)."""
    if unit == "kg":
        value = (
            round(rng.uniform(lo, hi) * 2) / 2 if hi - lo >= 2 else round(rng.uniform(lo, hi), 1)
        )
    else:
        value = float(round(rng.uniform(lo, hi) / 10) * 10)
    if unit == "g" and rng.random() < 0.25:
        value, unit = value / 1000, "kg"
    dec = 0 if float(value).is_integer() else len(f"{num(value)}".split(".")[1])
    shown = fmt_num(value, dec, style)
    word = unit if lang == "en" else {"kg": "кг", "g": "г"}[unit]
    return f"{shown} {word}", {"value": num(value), "unit": unit}
