"""Brand and manufacturer names that a phrase names as such (``labelled``): ``brand NordFix``,
``brand: X``, ``by Redi-Tag``, ``manufacturer: X``, ``made by X``, ``trademark of 3M``,
``производства Электрокабель``, ``производитель: X``, ``марка X``, ``торговая марка X``,
``X®``, ``X™``. The name is one to three capitalised words (quotes dropped), ending before a
label word (``art.``, ``SKU``) or a code-like token (``by Avery AVE12505`` → ``Avery``).

Capitalised words at the start of a product title are not read here: nothing says they are a
brand, and the grounded extraction offers the title's words anyway.
"""

from __future__ import annotations

import re

from appliance.extract.readers.context import guard
from appliance.extract.readers.types import Brand

_WORD = r"[A-ZÀ-ÖØ-ÞА-ЯЁ0-9][\w'’&+.-]*"
_NAME = rf"(?-i:(?P<name>[«\"“„]?{_WORD}(?:[ \t](?:&[ \t])?{_WORD}){{0,2}}[»\"”]?))"
_SEP = r"[ \t]*[:\-–—]?[ \t]*"
_TRIGGER_GUARD = guard((
    "bra", "tra", "бре", "тор", "мар", "тм", "man", "mak", "про", "изг", "mad", "des", "dis",
    "eng", "bui", "pow", "reg", "by",
))  # fmt: skip
TRIGGER_RE = re.compile(
    _TRIGGER_GUARD
    + r"(?:(?P<brand>\bbrand(?:[ \t]+name)?|\btrade[ \t]?mark|\bбренд\w*|(?:\bторгов\w+[ \t]+)?"
    r"\bмарк[аи]|\bТМ|\bmanufacturer|\bmaker|\bпроизводител[ья]|\bизготовител[ья])\b"
    + _SEP
    + r"|(?P<by_verb>\b(?:made|manufactured|produced|designed|distributed|engineered|built"
    r"|marketed|powered)[ \t]+by|\b(?:registered[ \t]+)?trade[ \t]?mark[ \t]+of"
    r"|\bпроизводств[ао](?:[ \t]+(?:компании|фирмы|завода|концерна))?)[ \t]+"
    r"|(?P<by>(?<![\w-])by)[ \t]+)" + _NAME,
    re.IGNORECASE,
)
# "Canon®", "Post-it™", "Scotch(R)": the word right before the mark.
MARK_RE = re.compile(r"®|™|\((?:R|TM)\)")
_MARKED_NAME_RE = re.compile(r"(?P<name>[A-Za-zА-Яа-яЁё0-9][\w'’&+-]*)[ \t]?$")

# Words after "by" that are not brands (ways, people, days, payment means, carriers).
_NOT_BRAND = {
    "the", "a", "an", "our", "your", "their", "his", "her", "its", "us", "me", "him", "them",
    "email", "e-mail", "mail", "phone", "fax", "post", "courier", "air", "sea", "road", "truck",
    "rail", "hand", "visa", "mastercard", "amex", "paypal", "check", "cheque", "wire", "bank",
    "card", "credit", "dhl", "ups", "fedex", "tnt", "ems", "usps", "today", "tomorrow",
    "tonight", "noon", "midnight", "end", "close", "cob", "eod", "next", "this", "return",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "i", "we", "you", "he", "she", "they", "mr", "mrs", "ms", "dr",
    "россии", "рф", "китая", "кнр", "германии", "италии", "турции", "беларуси", "белоруссии",
    "европы", "японии", "кореи", "сша", "польши", "финляндии", "швеции", "чехии", "индии",
    "казахстана", "узбекистана", "франции", "испании",
}  # fmt: skip
# Label words that end a name ("brand NordFix Art. NF-3190").
_STOP = {
    "art", "art.", "article", "sku", "model", "item", "price", "moq", "qty", "quantity", "p/n",
    "part", "cat", "cat.", "code", "no", "no.", "nr", "and", "or", "in", "of", "for", "with",
    "артикул", "арт", "арт.", "цена", "модель", "код", "и", "для", "с",
}  # fmt: skip
# A word before "by" that makes it a verb phrase ("sent by", "paid by"), not "<product> by".
_VERB_BEFORE_RE = re.compile(
    # a participle ("taken by", "Shipped by"); "Dozen Pen by Pilot", "Green by Avery" are products
    r"(?:\b(?-i:[a-z]\w*(?:ed|en)|[A-Z]\w{2,}ed)|paid|sent|send|go|stop|drop|pass|come|stand|get|pay|ship"
    r"|call|email|mail"
    r"|contact|reply|respond|deliver|sold|held|run|done|set|one|step|day|bit|hand|far|way"
    r"|near|close|side|multiply|divide|x|\d+(?:[.,]\d+)?[\"']?)[ \t]*$",
    re.IGNORECASE,
)
_IN_TITLE_RE = re.compile(r"[A-Z][\w-]*[ \t]+Brand(?:[ \t]+Name)?[ \t]*$")
_CODE_LIKE_RE = re.compile(r"(?=.*\d)(?=.*[^\W\d_]).{4,}")


def _clean(name: str) -> tuple[int, str]:
    """Offset into ``name`` and the cleaned name (quotes, stop words, codes, dots dropped)."""
    lead = len(name) - len(name.lstrip('«"“„'))
    words: list[str] = []
    for i, w in enumerate(name[lead:].split(" ")):
        bare = w.strip('»"”,.;:')
        if bare.lower() in _STOP or (i and _CODE_LIKE_RE.fullmatch(bare)):
            break
        words.append(w)
        if w != w.rstrip('»"”,;:'):
            break  # a closing quote or a comma ends the name
    cleaned = " ".join(words).rstrip('»"”,.;:-–')
    return lead, cleaned


def read_brands(text: str) -> list[Brand]:
    out: dict[int, Brand] = {}
    for m in TRIGGER_RE.finditer(text):
        offset, name = _clean(m.group("name"))
        first = name.split(" ")[0].lower() if name else ""
        if not name or first in _NOT_BRAND or (name[0].isdigit() and name.isdigit()):
            continue
        if first[:1].isdigit() and not any(ch.isalpha() for ch in first):
            continue  # "by 5 pm", "by 2026"
        if m.group("by") and _VERB_BEFORE_RE.search(text[max(0, m.start() - 30) : m.start()]):
            continue
        if m.group("brand") and _IN_TITLE_RE.search(text, max(0, m.start() - 30), m.end("brand")):
            continue  # "Generic Brand Black Toner": a capitalised title word, not a label
        s = m.start("name") + offset
        out[s] = Brand(s, s + len(name), name, labelled=True)
    for mark in MARK_RE.finditer(text):
        named = _MARKED_NAME_RE.search(text, max(0, mark.start() - 40), mark.start())
        if named is None or (named.start() and text[named.start() - 1].isalnum()):
            continue
        s = named.start("name")
        if s not in out and named.group("name").lower() not in _NOT_BRAND:
            out[s] = Brand(s, named.end("name"), named.group("name"), labelled=True)
    return [out[k] for k in sorted(out)]
