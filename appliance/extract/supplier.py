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


def supplier_of(text: str, from_name: str | None, from_addr: str | None) -> Supplier:
    """The mail's supplier: the signature's company, else the sender's name; the From address."""
    return Supplier(name=company_in(text) or from_name or None, email=from_addr or None)
