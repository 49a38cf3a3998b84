"""Lead times in days: ``Lead time: 2 weeks`` → 14, ``delivery within 10 days``, ``10 working
days`` (``working_days``), ``3-4 weeks`` → 28 (the upper bound), ``ships in 48 hours`` → 2,
``in stock`` → 0, ``срок поставки: 5 дней``, ``2 недели``, ``5 рабочих дней``.

A duration is a lead time unless the nearest keyword before it in its clause says it is
something else (``valid for 30 days``, ``payment 30 days net``, ``warranty``, ``the next two
weeks``) or the words after it do (``30 days net``, ``30 day return``). Without a lead-time
keyword (delivery, lead time, ships, срок, поставка …) only days and weeks count, and not as an
adjective (``a 30-day trial``).
"""

from __future__ import annotations

import math
import re

from appliance.extract.readers.context import Taken, after, before, guard, last_group
from appliance.extract.readers.numbers import NUMBER_OR_WORD_GUARD, NUMBER_WORD, NUMBER_WORDS
from appliance.extract.readers.types import LeadTime

_N = rf"(?:\d{{1,3}}|{NUMBER_WORD})"
_QUALIFIER = r"(?P<qual>working|business|work|calendar|рабочих|рабочие|календарных|банковских)"
_UNIT = (
    r"(?P<unit>days?|weeks?|wks?|months?|hours?|hrs?|h|дн(?:ей|я|ь)|дн\.|день"
    r"|недел[ьиюя]|нед\.|месяц(?:а|ев)?|мес\.|час(?:а|ов)?|суток|сутки)"
)
DURATION_RE = re.compile(
    rf"{NUMBER_OR_WORD_GUARD}(?<![\w.,/])"
    rf"(?:(?P<lo>{_N})[ \t]*(?:-|–|—|to|до|or|или)[ \t]*)?(?P<n>{_N})"
    rf"[ \t-]?(?:{_QUALIFIER}[ \t]+)?{_UNIT}(?:(?<=\.)|(?![^\W\d_]))",
    re.IGNORECASE,
)
IN_STOCK_RE = re.compile(
    guard(("in ", "in-", "fro", "ex ", "ex-", "imm", "ava", "rea", "на ", "в н", "со "))
    + r"(?:\b(?:in|from|ex)[ -]stock\b|\bimmediately\s+available\b|\bavailable\s+immediately\b"
    r"|\bready\s+to\s+ship\b|на\s+складе|в\s+наличии|со\s+склада)",
    re.IGNORECASE,
)
_NOT_STOCK_RE = re.compile(r"(?:\bnot|\bout\s+of|\bнет|\bне)\s*$", re.IGNORECASE)
KEYWORDS_RE = re.compile(
    r"(?P<lead>\blead[ -]?times?|\bdeliver\w*|\bship\w*|\bdispatch\w*|\bproduction\b"
    r"|\bmanufactur\w*|\bturnaround|\bready\b|\bavailab\w*|\bETA\b|\bwithin\b|\bсрок\w*"
    r"|поставк\w*|поставим|доставк\w*|отгруз\w*|изготовлен\w*|изготовим|производств\w*"
    r"|готовност\w*|в\s+течение)"
    r"|(?P<_not>\bvalid\w*|\bpayment|\bpay\b|\bpaid\b|\bnet\b|\bcredit\b|\binvoice\w*"
    r"|\bwarrant\w*|\bguarantee\w*|\breturn\w*|\btrial\b|\bnotice\b|\bpast\b|\blast\b|\bnext\b"
    r"|\bprevious\b|\bevery\b|\bper\b|\bage[ds]?\b|\bexpir\w*|действительн\w*|действует"
    r"|оплат\w*|отсрочк\w*|гаранти\w*|возврат\w*|кредит\w*|предоплат\w*|последн\w*|кажд\w*)",
    re.IGNORECASE,
)
_NOT_AFTER_RE = re.compile(
    r"^[ \t]*(?:net\b|нетто|(?:from|after|of)\s+(?:the\s+)?(?:date\s+of\s+)?invoice|credit"
    r"|return|trial|warranty|guarantee|money|notice|ago\b|payment\s+terms|с\s+даты\s+сч"
    r"|после\s+выставления|гаранти)",
    re.IGNORECASE,
)
# Units that make a lead time without a keyword ("2 недели", "10 working days").
_PLAIN_RE = re.compile(r"days?|weeks?|wks?|дн(?:ей|я|ь)|дн\.|день|недел[ьиюя]|нед\.", re.I)
_CLAUSE_END = re.compile(r"[.;!?](?:\s|$)")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "д": 1, "н": 7, "м": 30, "с": 1}


def _count(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token.lower()]


def _days(n: int, unit: str) -> int:
    u = unit.lower()
    if u.startswith(("h", "ч")):
        return math.ceil(n / 24)
    return n * _UNIT_DAYS.get(u[0], 1)


def read_lead_times(text: str, taken: Taken) -> list[LeadTime]:
    out: list[LeadTime] = []
    prev_end = 0
    for m in DURATION_RE.finditer(text):
        if taken.overlaps(*m.span()):
            continue
        context = before(text, m.start(), 80, prev_end)
        ends = list(_CLAUSE_END.finditer(context))
        clause = context[ends[-1].end() :] if ends else context
        prev_end = m.end()
        keyword = last_group(KEYWORDS_RE, clause)
        if keyword == "_not":
            continue  # "valid for 30 days", "payment 30 days", "the next two weeks"
        if keyword is None and not _PLAIN_RE.fullmatch(m.group("unit")):
            continue  # unlabelled "16 hour", "3 months": rarely a lead time
        if keyword is None and text[m.start("unit") - 1] == "-":
            continue  # "a 30-day trial", "3-week course": an adjective
        if _NOT_AFTER_RE.match(after(text, m.end(), 40)):
            continue  # "30 days net", "30 day return policy"
        n = _count(m.group("n"))
        working = bool(m.group("qual")) and m.group("qual").lower()[:3] in ("wor", "bus", "раб")
        days = _days(n, m.group("unit"))
        out.append(LeadTime(m.start(), m.end(), m.group(), days=days, working_days=working))
    for m in IN_STOCK_RE.finditer(text):
        if taken.overlaps(*m.span()) or _NOT_STOCK_RE.search(before(text, m.start(), 12)):
            continue
        out.append(LeadTime(m.start(), m.end(), m.group(), days=0))
    out.sort(key=lambda c: c.start)
    return out
