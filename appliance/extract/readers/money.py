"""Money: an amount with its currency (``12.40 EUR``, ``$149.00``, ``€1.234,56``, ``85,50 руб.``,
``1 250 ₽``, ``RUB 300``), what it is priced per (``per box``, ``/pc``, ``за метр``) and its role
from the words before it (VAT → tax, shipping → shipping, total → total, discount → discount,
else price). Labelled amounts without a currency (``Цена: 120,00``) take the currency of their
label (``Price (EUR):``) or the one currency the mail names.
"""

from __future__ import annotations

import re
import unicodedata

from appliance.extract.contract import CURRENCIES, CURRENCY_ALIASES
from appliance.extract.readers.context import Taken, after, before, guard, last_role, trie
from appliance.extract.readers.numbers import NUMBER, parse_number
from appliance.extract.readers.types import Money, MoneyRole

# Symbols and words beyond contract.CURRENCY_ALIASES (which they extend, not replace).
_EXTRA_SYMBOLS = {
    "US$": "USD", "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "HK$": "HKD",
    "S$": "SGD", "NZ$": "NZD", "R$": "BRL", "₺": "TRY", "₩": "KRW", "₪": "ILS",
}  # fmt: skip
_EXTRA_WORDS = {
    "euros": "EUR", "руб": "RUB", "рубль": "RUB", "рубля": "RUB", "рублей": "RUB",
    "рубли": "RUB", "рублях": "RUB", "долларах": "USD", "долларах сша": "USD",
    "долл.": "USD", "доллар": "USD", "доллара": "USD", "долларов": "USD", "грн.": "UAH",
    "гривен": "UAH", "тенге": "KZT", "юань": "CNY", "юаня": "CNY", "юаней": "CNY",
    "yen": "JPY", "zł": "PLN", "kč": "CZK", "usd": "USD", "eur": "EUR", "rub": "RUB",
    "gbp": "GBP", "chf": "CHF", "cny": "CNY", "jpy": "JPY",
}  # fmt: skip
ALIASES: dict[str, str] = {k.lower(): v for k, v in CURRENCY_ALIASES.items()}
ALIASES.update({k.lower(): v for k, v in {**_EXTRA_SYMBOLS, **_EXTRA_WORDS}.items()})


def _symbolic(alias: str) -> bool:
    return any(unicodedata.category(ch) == "Sc" for ch in alias)  # "$", "us$", "₽"


_SYMBOLS = sorted((a for a in ALIASES if _symbolic(a)), key=len, reverse=True)
_WORDS = sorted((a for a in ALIASES if not _symbolic(a)), key=len, reverse=True)

# Upper-case ISO codes that are also common words or names ("CAD drawings", "PHP", "AMD");
# they count as a currency only next to an amount.
_AMBIGUOUS = {"CAD", "PHP", "AMD", "GEL", "TRY", "SAR", "ARS", "COP", "CLP"}
# Words that name a currency only next to an amount ("р." is also an abbreviation).
_ADJACENT_ONLY = {"р.", "rub", "rur", "usd", "eur", "gbp", "chf", "cny", "jpy"}

# Each alternative starts with a one-character guard (see context.guard).
_CODE = r"(?=[A-Z])(?<![A-Za-z])" + trie(CURRENCIES) + r"(?![A-Za-z])"
_WORD = (
    guard({w[:2] for w in _WORDS})
    + r"(?<![^\W\d_])(?i:"
    + trie(_WORDS)
    + r")(?:(?<=\.)|(?![^\W\d_]))"
)
# The symbol character alone; a letter prefix ("US$", "HK$") is added to the span after.
_SYMBOL = "[" + "".join(sorted({s[-1] for s in _SYMBOLS})) + "]"
_DOLLAR_PREFIX_RE = re.compile(r"(?<![A-Za-z])(?:US|CA|AU|HK|NZ|C|A|S|R)$", re.IGNORECASE)
CURRENCY = rf"(?:{_CODE}|{_SYMBOL}|{_WORD})"
_SP = r"[ \u00a0\u202f]{0,2}"
_MULT = r"(?P<mult>[ \u00a0]?(?:тыс\.?|млн\.?)|[kK](?![^\W\d_]))?"
_PREFIX_RE = re.compile(rf"(?P<cur>{_CODE}|{_SYMBOL}){_SP}-?(?P<num>{NUMBER}){_MULT}")
_SUFFIX_RE = re.compile(rf"(?P<num>{NUMBER}){_MULT}{_SP}(?P<cur>{CURRENCY})")
_CURRENCY_RE = re.compile(CURRENCY)

_PER_AFTER_RE = re.compile(
    r"[ \t]*(?:(?:/|\bper\b|\bpro\b|\bза\b|\ban?\b)[ \t]*(?:1[ \t]*)?(?P<unit>[^\W\d_]{1,15})"
    r"|\b(?P<each>each|ea)\b|\.[ \t]*(?P<each2>(?-i:each|ea))\b)",  # "$750. each", not ". Each box"
    re.IGNORECASE,
)
_PER_BEFORE_RE = re.compile(
    r"(?:\bper\b|\bза\b)[ \t]+(?:1[ \t]*)?(?P<unit>[^\W\d_]{1,15})\.?[ \t]*(?:\([^)]*\))?"
    r"[ \t]*[:=\-–—]?[ \t]*$",
    re.IGNORECASE,
)
ROLE_RE = re.compile(
    r"(?P<_mod>\b(?:incl|including|inclusive\s+of|excl|excluding|exclusive\s+of|plus|with"
    r"|without|w/o|net\s+of)\.?\s+(?:vat|tax(?:es)?|gst|delivery|shipping|freight)\b"
    r"|(?:\bс|\bбез|включая|не\s+включая|без\s+уч[её]та|с\s+уч[её]том)\s+"
    r"(?:ндс|доставк\w*|налог\w*))"
    r"|(?P<total>\btotal\s+(?:price|amount|cost|value)|\bsub-?\s?total|\btotal|\bamount\s+due"
    r"|\bsum\b|итог\w*|\bвсего|\bсумм\w*|общая\s+стоимость|\bк\s+оплате)"
    r"|(?P<tax>\bvat\b|\bgst\b|\btax(?:es)?\b|\bндс\b|\bналог\w*)"
    r"|(?P<shipping>(?:\bshipping|\bdelivery\b|\bfreight|\bcarriage|\bpostage|\bhandling)"
    r"(?:\s+(?:costs?|charges?|fees?|price|rate))?"
    r"|доставк\w*|транспортн\w+\s+расход\w*|перевозк\w*)"
    r"|(?P<discount>\bdiscount\w*|\brebate\w*|\bsaving\w*|\breduction|скидк\w*)"
    r"|(?P<price>\bunit\s+price|\bprice\w*|\bcost\b|\brate\b|\bцен\w*|\bстоимост\w*)",
    re.IGNORECASE,
)
# "Цена: 120,00", "Price (EUR): 12.40", "Цена, руб.: 120": a price label and a bare amount.
_BARE_GUARD = guard((
    "un", "pr", "co", "to", "su", "am", "va", "sh", "de", "di",
    "це", "ст", "ит", "вс", "су", "нд", "до", "ск",
))  # fmt: skip
_BARE_RE = re.compile(
    _BARE_GUARD
    + r"(?P<label>\b(?:unit\s+price|prices?|cost|total(?:\s+price)?|sub-?total|amount\s+due"
    r"|vat|shipping|delivery\s+cost|discount)|(?<![^\W\d_])(?:цена|стоимость|итого|всего"
    r"|сумма|ндс|доставка|скидка))"
    rf"(?:[ \t]*[(,][ \t]*(?P<cur>{CURRENCY})[ \t]*\)?)?"
    r"(?:[ \t]+(?:per|за)[ \t]+[^\W\d_]+\.?)?"
    rf"[ \t]*[:=\-–—]?[ \t]*(?P<num>{NUMBER})"
    r"(?![ \t]*(?:%|[xх×*][ \t]*\d|(?!per\b|pro\b|за\b|each\b|ea\b|excl|incl|plus\b|net\b"
    r"|без\b|с\b|вкл)[^\W\d_]))",
    re.IGNORECASE,
)


def _symbol_prefix(text: str, cur_start: int) -> int:
    """Start of a currency token whose symbol stands at ``cur_start`` ("US$" → at "U")."""
    if text.startswith("$", cur_start):
        p = _DOLLAR_PREFIX_RE.search(text, max(0, cur_start - 3), cur_start)
        if p:
            return p.start()
    return cur_start


def currency_of(token: str) -> str | None:
    """The ISO code of a currency token (``$`` → USD, ``руб.`` → RUB, ``EUR`` → EUR)."""
    t = token.strip()
    if t in CURRENCIES:
        return t
    return ALIASES.get(t.lower())


def currencies_named(text: str, money: list[Money]) -> list[str]:
    """ISO codes of every currency the text names, in order of first mention."""
    found: list[tuple[int, str]] = [(m.start, m.currency) for m in money if m.currency]
    for m in _CURRENCY_RE.finditer(text):
        tok = text[_symbol_prefix(text, m.start()) : m.end()]
        if tok in _AMBIGUOUS or (tok.lower() in _ADJACENT_ONLY and not tok.isupper()):
            continue
        iso = currency_of(tok)
        if iso:
            found.append((m.start(), iso))
    out: list[str] = []
    for _, iso in sorted(found):
        if iso not in out:
            out.append(iso)
    return out


def _per(text: str, end: int, context: str) -> str | None:
    m = _PER_AFTER_RE.match(text, end)
    if m and (per := m.group("unit") or m.group("each") or m.group("each2")):
        return per
    m = _PER_BEFORE_RE.search(context)
    return m.group("unit") if m else None


def _role(text: str, start: int, end: int, floor: int) -> MoneyRole:
    context = " ".join(before(text, start, 120, floor).split())[-40:]
    role = last_role(ROLE_RE, context)
    if role is None:
        m = ROLE_RE.match(after(text, end, 30).lstrip(" \t(-–"))
        role = (
            m.lastgroup if m and m.lastgroup in ("total", "tax", "shipping", "discount") else None
        )
    return role or "price"  # type: ignore[return-value]


def _bracketed(text: str, start: int, end: int) -> bool:
    """``($69.00)``: an accountant's negative amount, a deduction rather than a price."""
    return text[start - 1 : start] == "(" and text[end : end + 1] == ")"


def _value(num: str, mult: str | None) -> float | None:
    v = parse_number(num)
    if v is not None and mult:
        m = mult.strip().lower()
        v *= 1_000_000 if m.startswith("млн") else 1000
    return v


def read_money(text: str, taken: Taken) -> list[Money]:
    """Amounts with a currency, in text order."""
    found: list[re.Match[str]] = []
    for rx in (_SUFFIX_RE, _PREFIX_RE):
        found.extend(m for m in rx.finditer(text) if not taken.overlaps(*m.span("num")))
    # "12.40 EUR 500 boxes": the suffix and prefix readings share "EUR"; keep the first, or
    # the one with decimals.
    found.sort(key=lambda m: m.start())
    chosen: list[re.Match[str]] = []
    for m in found:
        if chosen and m.start() < chosen[-1].end():
            prev = chosen[-1]
            if re.search(r"[.,]\d\d$", m.group("num")) and not re.search(
                r"[.,]\d\d$", prev.group("num")
            ):
                chosen[-1] = m
            continue
        chosen.append(m)
    out: list[Money] = []
    prev_end = 0
    for m in chosen:
        prefix_form = m.start("cur") == m.start()
        start = _symbol_prefix(text, m.start()) if prefix_form else m.start()
        value = _value(m.group("num"), m.group("mult"))
        iso = currency_of(text[start if prefix_form else m.start("cur") : m.end("cur")])
        if value is None or iso is None or start < prev_end:
            continue
        context = before(text, start, 60, prev_end)
        out.append(
            Money(
                start,
                m.end(),
                text[start : m.end()],
                value=value,
                currency=iso,
                per=_per(text, m.end(), context),
                role="discount"
                if _bracketed(text, start, m.end())
                else _role(text, start, m.end(), prev_end),
            )
        )
        prev_end = m.end()
    return out


def read_bare_money(text: str, taken: Taken, currencies: list[str]) -> list[Money]:
    """Amounts after a price label without a currency next to them (``Цена: 120,00``)."""
    single = currencies[0] if len(currencies) == 1 else None
    out: list[Money] = []
    for m in _BARE_RE.finditer(text):
        s, e = m.span("num")
        value = parse_number(m.group("num"))
        if value is None or taken.overlaps(s, e):
            continue
        iso = currency_of(m.group("cur")) if m.group("cur") else single
        role = last_role(ROLE_RE, m.group("label")) or "price"
        context = text[m.start() : s]
        out.append(
            Money(
                s, e, m.group("num"), value=value, currency=iso,
                per=_per(text, e, context), role=role,  # type: ignore[arg-type]
            )
        )  # fmt: skip
    return out
