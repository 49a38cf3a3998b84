"""Article numbers, SKUs, part numbers.

Labelled: after ``art.``, ``арт.``, ``артикул``, ``код``, ``SKU``, ``Item #``, ``Item No.``,
``P/N``, ``Part No.``, ``MPN``, ``Model:``, ``Cat. No.``, ``UPC``/``EAN``, ``Ref.`` (a comma list
after one label gives several), and a code in parentheses after a product name
(``ErgoPro 300 (EP-300)``). Unlabelled: tokens that look like codes, letters and digits mixed
or a run of six or more digits, at least four characters (``RTG31002``, ``T009201``,
``14000-27-XL``) but not dimensions (``60x40x40``), measures (``13pt``, ``220V``), ordinals,
charsets, nor anything another reader took (dates, money, quantities, phone numbers, e-mail
addresses, URLs, payment terms).
"""

from __future__ import annotations

import re

from appliance.extract.readers.context import Taken, guard
from appliance.extract.readers.types import Code

_CODE = r"[A-Za-zА-Яа-яЁё0-9](?:[A-Za-zА-Яа-яЁё0-9]|[-./_](?=[A-Za-zА-Яа-яЁё0-9]))*"
_NO = r"(?:no\.?|nr\.?|number|#|№)"
_LABEL_GUARD = guard((
    "art", "sku", "ite", "p/n", "pn", "par", "mpn", "mod", "cat", "ref", "pro", "ord", "upc",
    "ean", "gti", "код", "арт", "мод", "кат",
))  # fmt: skip
LABELLED_RE = re.compile(
    _LABEL_GUARD + r"(?P<label>(?<![\w/])(?:art\.|art(?=[ \t]*[:#])|article[ \t]*" + _NO + r"?|sku"
    r"|item[ \t]*(?:" + _NO + r"|code)|p/n|pn(?=[ \t]*[:#])|part[ \t]*" + _NO + r"|mpn"
    r"|model(?:[ \t]*" + _NO + r")?|cat(?:alog(?:ue)?)?\.?[ \t]*" + _NO + r"|ref(?:erence)?\.?"
    r"[ \t]*" + _NO + r"?|product[ \t]+(?:code|id|" + _NO + r")|order[ \t]+code|upc|ean|gtin"
    r"|код(?:[ \t]+товара)?|артикул|арт\.|модель|кат\.[ \t]*№)(?![^\W\d_]))"
    r"[ \t]*[:#=№]?[ \t]*(?P<code>" + _CODE + r")"
    r"(?P<more>(?:[ \t]*,[ \t]*" + _CODE + r"){0,9})",
    re.IGNORECASE,
)
PAREN_RE = re.compile(r"(?=[ \t(])(?<=[\w)])[ \t]*\((?P<code>" + _CODE + r")\)")
_CODE_RE = re.compile(_CODE)
_CHUNK_CHAR = r"[^\s,;:()\[\]{}<>\"'«»|!?]"
# Whitespace/punctuation-delimited chunks holding a digit (the look-behind starts them only at a
# chunk's first character).
_CHUNK_RE = re.compile(rf"(?<!{_CHUNK_CHAR}){_CHUNK_CHAR}*\d{_CHUNK_CHAR}*")
_STRIP = ".-/#*+_'’"
_CLEAN_RE = re.compile(r"[\w.-]+")
_DIMENSION_RE = re.compile(r"[\d.,]+(?:[xх×*][\d.,]+)+[^\W\d_]*", re.IGNORECASE)
_MEASURE_RE = re.compile(
    r"\d+(?:[.,]\d+)?(?:[a-zа-яё]{1,4}\.?|(?:MM|CM|KG|V|W|KW|HZ|MHZ|GHZ|GB|MB|TB|KB|MP|AH|MAH"
    r"|PCS|L|ML|M|G|K|X|XL|P|AM|PM|ST|ND|RD|TH|D|H|S|MIN|SEC|HRS?|DAYS?|YRS?|PT|LB|LBS|OZ|FT|IN))"
)
_CHARSET_RE = re.compile(r"(?:utf|iso|windows|koi8|cp|ibm|latin)-?\d.*", re.IGNORECASE)
_DIGIT_RUN_RE = re.compile(r"\d{6,}")
_DECIMAL_RE = re.compile(r"\d+[.,]\d+")  # 1206478.00: an amount, not a code
# A plain word inside the token: "6-pack", "3-yr", "1-Year", "Address1", "x253", "Win98".
_WORDISH_RE = re.compile(r"(?:^|[-._\d])[A-ZА-ЯЁ]?[a-zа-яё]{2,}(?:$|[-._\d])|^[a-zа-яё]\d+$")


def looks_like_code(token: str) -> bool:
    """Letters and digits mixed, or six digits in a row; four characters at least; not a
    dimension, a measure or a charset name."""
    if len(token) < 4 or not _CLEAN_RE.fullmatch(token):
        return False
    has_letter = any(ch.isalpha() for ch in token)
    if not ((has_letter and any(ch.isdigit() for ch in token)) or _DIGIT_RUN_RE.search(token)):
        return False
    return not (
        _DIMENSION_RE.fullmatch(token)
        or _DECIMAL_RE.fullmatch(token)
        or _WORDISH_RE.search(token)
        or _MEASURE_RE.fullmatch(token)
        or _CHARSET_RE.fullmatch(token)
    )


def _labelled_ok(code: str) -> bool:
    """A digit, or capitals beyond a sentence's first letter ("X", "ABC", "ErgoPro"); not a
    plain word such as a column header after "SKU#" ("Quantity")."""
    return (
        any(ch.isdigit() for ch in code)
        or any(ch.isupper() for ch in code[1:])
        or (len(code) == 1 and code.isupper())
    )


def read_codes(text: str, taken: Taken) -> list[Code]:
    out: list[Code] = []
    for m in LABELLED_RE.finditer(text):
        if _labelled_ok(m.group("code")) and not taken.overlaps(*m.span("code")):
            out.append(Code(m.start("code"), m.end("code"), m.group("code"), labelled=True))
        base = m.start("more")
        for c in _CODE_RE.finditer(m.group("more")):
            s, e = base + c.start(), base + c.end()
            if _labelled_ok(c.group()) and not taken.overlaps(s, e):
                out.append(Code(s, e, c.group(), labelled=True))
    for m in PAREN_RE.finditer(text):
        s, e = m.span("code")
        if looks_like_code(m.group("code")) and not taken.overlaps(s, e):
            out.append(Code(s, e, m.group("code"), labelled=True))
    seen = Taken((c.start, c.end) for c in out)
    for m in _CHUNK_RE.finditer(text):
        token = m.group()
        lead = len(token) - len(token.lstrip(_STRIP))
        token = token.strip(_STRIP)
        s = m.start() + lead
        e = s + len(token)
        if looks_like_code(token) and not taken.overlaps(s, e) and not seen.overlaps(s, e):
            out.append(Code(s, e, token, labelled=False))
    out.sort(key=lambda c: c.start)
    return out
