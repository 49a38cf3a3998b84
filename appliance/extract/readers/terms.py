"""Trade terms: Incoterms rules with their place (``FCA Gothenburg``, ``EXW Москва``) and
payment-terms phrases (``Payment 30 days net``, ``net 30``, ``50% advance, 50% before
shipment``, ``оплата 100% предоплата``, ``отсрочка платежа 30 дней``).

Incoterms are read only as whole upper-case words (``fob`` and ``Dat`` are words, not rules);
the place is the capitalised words that follow. A payment phrase runs from its trigger to the end
of its clause; after a comma it goes on only while the next part still speaks of payment
(``%``, balance, остаток …). After a label (``Payment terms:``, ``Условия оплаты:``) the span is
the value alone.
"""

from __future__ import annotations

import re

from appliance.extract.readers.context import guard
from appliance.extract.readers.types import Incoterm, PaymentTerms

INCOTERMS_2020 = ("EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP")
_LEGACY = ("DAT",)
_PLACE_WORD = r"(?:[A-ZÀ-ÖØ-ÞА-ЯЁ][\w'’.-]*)"
INCOTERM_RE = re.compile(
    r"(?=[CDEF])(?<![\w/-])(?P<rule>" + "|".join(INCOTERMS_2020 + _LEGACY) + r")(?![\w/-])"
    r"(?:[ \t]*\(?Incoterms?®?[ \t]*(?:20\d\d)?\)?)?"
    rf"(?:[ \t]*[:\-–]?[ \t]*(?P<place>{_PLACE_WORD}(?:[ \t]{_PLACE_WORD}){{0,2}}))?"
)
# Capitalised words after a rule that are not a place.
_NOT_PLACE = {
    "Incoterms", "Incoterm", "Price", "Prices", "Payment", "Delivery", "Terms", "The", "Our",
    "Your", "Please", "Lead", "Total", "Цена", "Оплата", "Условия", "Срок", "Поставка",
    *INCOTERMS_2020, *_LEGACY,
}  # fmt: skip

_LABEL = (
    r"(?P<label>\b(?:payment\s+terms?|terms\s+of\s+payment|payment\s+conditions?|payment"
    r"|условия\s+(?:оплаты|платежа)|порядок\s+оплаты|оплата)[ \t]*[:\-–—][ \t]*)"
)
_TRIGGER = (
    r"(?P<trigger>(?<!after\s)(?<!upon\s)(?<!on\s)(?<!before\s)(?<!following\s)\bpayment\b"
    r"(?=[^.\n;]{0,40}?(?:\d|advance|prepay|upon|on\s+delivery|on\s+receipt|in\s+full"
    r"|by\s+(?:wire|bank|l/c|t/t|letter)))"
    r"|\bnet[ \t]?\d{1,3}\b|\b\d{1,3}[ \t]?days?[ \t]+net\b"
    r"|\b\d{1,3}[ \t]?%[ \t]*(?:pre-?payment|advance|upfront|up-front|deposit|down\s+payment"
    r"|on\s+order|with\s+order|предоплат\w*|аванс\w*)"
    r"|\b(?:pre-?payment|cash\s+in\s+advance|cash\s+on\s+delivery|letter\s+of\s+credit)\b"
    r"|(?<![\w/])(?:L/C|T/T)(?![\w/])"
    r"|(?<!после\s)(?<!до\s)(?<!после\sполной\s)\bоплат[аы]\b|\bпредоплат\w*|\bпостоплат\w*"
    r"|\bотсрочк\w*(?:\s+(?:платежа|оплаты))?|\bналоженн\w+\s+плат[её]ж\w*)"
)
_PAYMENT_GUARD = guard((
    "pay", "ter", "усл", "пор", "опл", "net", "pre", "cas", "let", "l/c", "t/t", "пре", "пос",
    "отс", "нал",
), r"\d")  # fmt: skip
PAYMENT_RE = re.compile(rf"{_PAYMENT_GUARD}(?:{_LABEL}|{_TRIGGER})", re.IGNORECASE)
_BOUNDARY_RE = re.compile(r"[;\n]|[.!?](?=\s|$)|,")
_GOES_ON_RE = re.compile(
    r"%|\b(?:balance|remaining|rest|invoice|net|prepay\w*|advance)\b|остат\w*|остальн\w*"
    r"|оплат\w*|предоплат\w*|сч[её]т\w*",
    re.IGNORECASE,
)
_MAX_PHRASE = 160


def read_incoterms(text: str) -> list[Incoterm]:
    out: list[Incoterm] = []
    for m in INCOTERM_RE.finditer(text):
        place = m.group("place")
        end = m.end()
        if place:
            words = place.split()
            kept: list[str] = []
            for w in words:
                if w.rstrip(".,") in _NOT_PLACE:
                    break
                kept.append(w)
            place = " ".join(kept).rstrip(".,-") or None
            end = m.start("place") + len(place) if place else m.end("rule")
        else:
            end = m.end("rule")
        out.append(
            Incoterm(m.start(), end, text[m.start() : end], rule=m.group("rule"), place=place)
        )
    return out


def _clause_end(text: str, pos: int) -> int:
    limit = min(len(text), pos + _MAX_PHRASE)
    while True:
        b = _BOUNDARY_RE.search(text, pos, limit)
        if b is None:
            return limit
        if b.group() != ",":
            return b.start()
        nxt = _BOUNDARY_RE.search(text, b.end(), limit)
        segment = text[b.end() : nxt.start() if nxt else limit]
        if not _GOES_ON_RE.search(segment):
            return b.start()
        pos = b.end()


def read_payment_terms(text: str) -> list[PaymentTerms]:
    out: list[PaymentTerms] = []
    covered = 0
    for m in PAYMENT_RE.finditer(text):
        if m.start() < covered:
            continue
        start = m.end() if m.group("label") else m.start()
        end = _clause_end(text, m.end() if m.group("label") else m.end("trigger"))
        while end > start and text[end - 1] in " \t,:-–":
            end -= 1
        if end <= start or (m.group("label") is None and end - start < 3):
            continue
        trigger = m.group("trigger")
        if trigger and trigger.lower().startswith(("оплат", "payment")) and end == m.end("trigger"):
            continue  # "Оплата" alone: a heading, not terms
        out.append(PaymentTerms(start, end, text[start:end]))
        covered = end
    return out
