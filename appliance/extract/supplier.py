"""The supplier of a mail: the company its signature names, else the sender's display name.

A company is a signature line (among the last lines of the text) that carries a legal form:
``Nordic Fasteners AB``, ``OfficeLine Inc.``, ``ООО «Электроснаб»``, ``Acme GmbH``. The sender's
address is the From header's, always: what a mail says about addresses is not trusted.
"""

from __future__ import annotations

import re

from appliance.extract.contract import Supplier

_FORMS_AFTER = (
    r"Ltd\.?|Limited|LLC|L\.L\.C\.|Inc\.?|Incorporated|Corp\.?|Corporation|Co\.|Company|GmbH|AG|"
    r"AB|Oy|AS|A/S|ApS|SA|S\.A\.|SAS|S\.r\.l\.|SRL|S\.p\.A\.|BV|B\.V\.|NV|N\.V\.|PLC|plc|"
    r"LLP|LP|Pty\.? Ltd\.?|K\.K\.|Sp\. z o\.o\.|s\.r\.o\.|Kft\.?"
)
_COMPANY = re.compile(
    rf"^\s*(?:(?:ООО|АО|ЗАО|ОАО|ПАО|ИП|НПО|ТОО)\s*[«\"“][^»\"”]{{2,60}}[»\"”]"
    rf"|[^\W\d][\w&.,' -]{{1,60}}?\s(?:{_FORMS_AFTER}))\s*$"
)
SIGNATURE_LINES = 12


def company_in(text: str) -> str | None:
    """The last line among the text's last ``SIGNATURE_LINES`` non-blank lines that is a
    company name with its legal form, as written."""
    tail = [ln.strip() for ln in text.splitlines() if ln.strip()][-SIGNATURE_LINES:]
    for line in reversed(tail):
        if _COMPANY.match(line):
            return line
    return None


_FORWARDED_FROM = re.compile(
    r"^[ \t>]*(?:From|От|Von|De)[ \t]*:[ \t]*(?:\"?([^\"<\n]*?)\"?[ \t]*)?"
    r"<?([\w.+-]+@[\w-]+(?:\.[\w-]+)+)>?",
    re.MULTILINE,
)
# A Lotus Notes forward: '"Dell Computer Corp." <orders@dell.com> on 01/22/2001 01:07 PM'.
_NOTES_FROM = re.compile(
    r"^[ \t>]*(?:\"?([^\"<@\n]*?)\"?[ \t]*)?<?([\w.+-]+@[\w-]+(?:\.[\w-]+)+)>?(?:@[\w.-]+)?"
    r"[ \t]+on[ \t]+\d{1,2}/\d{1,2}/\d{2,4}",
    re.MULTILINE,
)
_MAILTO = re.compile(r"^[ \t>]*From\s*:\s*([^\[\n]*?)\s*\[mailto:([\w.+-]+@[\w.-]+)\]", re.M)
# The author of a forward that names no address: a Lotus Notes forward ("----- Forwarded by
# Joya Davis/HOU/ECT on 07/10/2000 -----", then the author's name over the date) or, in a
# forwarded mail, an Outlook header "From: Belden, Tim".
_NOTES_AUTHOR = re.compile(
    r"-{3,}[ \t]*Forwarded by[^\n]*\n(?:[ \t]*\n)*[ \t]*"
    r"(?P<name>[A-Z][\w'.-]+(?:[ \t]+[A-Z][\w'.-]+){1,3})[ \t]*\n[ \t]*\d{1,2}/\d{1,2}/\d{2,4}"
)
_OUTLOOK_AUTHOR = re.compile(
    r"^[ \t>]*From:[ \t]+(?P<last>[A-Z][\w'-]+),[ \t]+(?P<first>[A-Z][\w'-]+)[ \t]*$", re.M
)
_WORD = re.compile(r"[^\W_][\w&'’-]*")
# Parts of a domain that do not name the company.
_HOST_NOISE = {"www", "mail", "email", "ea", "e", "info", "orders", "shop", "store", "news"}


def forwarded_sender(text: str) -> tuple[str | None, str] | None:
    """``(name, address)`` of the first ``From:`` line inside the text (a forwarded or quoted
    original), or None."""
    found = [m for p in (_MAILTO, _FORWARDED_FROM, _NOTES_FROM) if (m := p.search(text))]
    if not found:
        return None
    m = min(found, key=lambda m: m.start())
    name = (m.group(1) or "").strip().strip('"') or None
    return name, m.group(2)


def forwarded_author(text: str, forward: bool) -> str | None:
    """The name of a forwarded original's author where the forward gives no address: a Notes
    forward's author line, or (``forward``: the mail is a forward) an Outlook ``From: Last,
    First`` header, as ``First Last``."""
    if m := _NOTES_AUTHOR.search(text):
        return m.group("name")
    if forward and (m := _OUTLOOK_AUTHOR.search(text)):
        return f"{m.group('first')} {m.group('last')}"
    return None


def name_of_address(address: str | None) -> str | None:
    """``Greg Blair`` for ``greg.blair@…``: a local part of two or three words."""
    local = (address or "").split("@", 1)[0]
    parts = re.split(r"[._]", local)
    if 2 <= len(parts) <= 3 and all(p.isalpha() and len(p) > 1 for p in parts):
        return " ".join(p.capitalize() for p in parts)
    return None


def name_from_domain(text: str, address: str | None) -> str | None:
    """The words of the text that spell the sender's domain: ``Paragon Sports`` for
    ``…@paragonsports.com``, ``Amazon.com`` for ``…@amazon.com``; the longest such span."""
    if not address or "@" not in address:
        return None
    host = address.rsplit("@", 1)[1].lower().split(".")
    labels = [h for h in host[:-1] if h not in _HOST_NOISE] or host[:1]
    want = {re.sub(r"\W|_", "", lab) for lab in labels if len(lab) >= 3}
    words = list(_WORD.finditer(text))
    found: list[str] = []
    person = name_of_address(address) is not None  # "joya.davis@…": a person, not a shop
    tld = f".{host[-1]}"
    for i in range(len(words)):
        joined = ""
        for j in range(i, min(i + 4, len(words))):
            joined += re.sub(r"\W|_", "", words[j].group()).lower()
            if joined not in want:
                continue
            end = words[j].end()
            dotted = i == j and text[end : end + len(tld)].lower() == tld
            # capitalised ("Paragon Sports"), or the domain as written ("lucy.com") where the
            # sender is no person
            if words[i].group()[:1].isupper() or (dotted and not person):
                span = text[words[i].start() : words[j].end()]
                if dotted:
                    span += text[words[j].end() : words[j].end() + len(tld)]
                if "\n" not in span:
                    found.append(span)
    # Capitalised before lower case ("lucy.com" only where nothing better spells it), words
    # apart ("Paragon Sports") before one word with its domain ("Amazon.com").
    found.sort(key=lambda s: (s[:1].isupper(), " " in s, len(s)), reverse=True)
    return found[0] if found else None


def supplier_of(
    text: str, from_name: str | None, from_addr: str | None, *, forward: bool = False
) -> Supplier:
    """The mail's supplier. The sender is the From header's, unless the text forwards another
    sender's mail (a ``From:`` line in it): then that one; a forward that names its author
    without an address (``forwarded_author``) gives that name and no address. The name is
    the signature's company, else the words of the text that spell the sender's domain, else
    the sender's display name. ``forward``: the mail is a forward (its subject says so)."""
    fwd = forwarded_sender(text)
    if fwd is not None and fwd[1].lower() != (from_addr or "").lower():
        from_name, from_addr = fwd
    elif fwd is None and (author := forwarded_author(text, forward)):
        from_name, from_addr = author, None
    company = from_name if from_name and _COMPANY.match(from_name) else None
    name = company_in(text) or company or name_from_domain(text, from_addr) or from_name
    return Supplier(name=name or name_of_address(from_addr), email=from_addr or None)
