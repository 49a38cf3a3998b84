"""Deterministic readers: typed candidates with exact spans, found before the model runs.

``read(text)`` runs every reader over one text and returns ``Candidates`` (types.py); for every
candidate ``text[c.start:c.end] == c.text``. Readers run in an order that lets a later one skip
what an earlier one took: phone numbers, e-mail addresses, URLs and dates first (never money,
quantities or codes), then money, dimensions, weights, quantities, labelled amounts and table
columns, lead times, trade terms, and last codes (which skip every number read as something).
English and Russian; all patterns are compiled once at import. Python's ``re`` tries a pattern
at every position, so each pattern that scans a whole mail opens with a one-character guard and
keeps long word lists as prefix trees (``context.guard``, ``context.trie``): ~22 ms CPU for a
20 kB mail, ~4 ms for a 4 kB one, measured on a 2-core machine busy with a model server.

Libraries considered (measured on this project's examples):
- price-parser: taken as a model, not a dependency: it reads one price per string and gives no
  span, so finding every amount in a mail still needs the patterns here; its decimal-separator
  rules are the ones numbers.py follows.
- dateparser: rejected: ``search_dates`` reads "may", "we" and phone numbers as dates, takes
  ~50 ms on a 4 kB mail (~100 ms on first use) and gives no spans; see dates.py.
- babel (``parse_decimal``): rejected: needs the number's locale, which a mail does not state
  per number (``1 250,50`` and ``1,250.50`` in one mail).
- quantulum3: rejected: reads ``500 boxes`` as dimensionless and ``1"`` as arc-seconds, has no
  Russian, and its first call takes ~2 s.
- pint: rejected: converts units but does not find them in text and knows no Russian units; we
  only normalise unit names (mm/cm/m/in/ft, g/kg/t/lb/oz), never convert.
"""

from __future__ import annotations

import dataclasses

from appliance.extract.readers.brands import read_brands
from appliance.extract.readers.codes import read_codes
from appliance.extract.readers.context import Taken, last_role, not_values
from appliance.extract.readers.dates import read_dates
from appliance.extract.readers.leadtimes import read_lead_times
from appliance.extract.readers.measures import read_dimensions, read_weights
from appliance.extract.readers.money import (
    ROLE_RE,
    currencies_named,
    read_bare_money,
    read_money,
)
from appliance.extract.readers.numbers import NUMBER_RE, parse_number
from appliance.extract.readers.quantities import read_quantities
from appliance.extract.readers.tables import Table, cell_bounds, column_at, find_tables
from appliance.extract.readers.terms import read_incoterms, read_payment_terms
from appliance.extract.readers.types import (
    Brand,
    Candidates,
    Code,
    DateValue,
    Dimensions,
    Incoterm,
    LeadTime,
    Money,
    MoneyRole,
    PaymentTerms,
    Quantity,
    Span,
    Weight,
)

__all__ = [
    "Brand", "Candidates", "Code", "DateValue", "Dimensions", "Incoterm", "LeadTime", "Money",
    "PaymentTerms", "Quantity", "Span", "Weight", "read",
]  # fmt: skip

_MONEY_ROLES = ("price", "total", "tax", "shipping", "discount")


def _spans(cands: list[Money] | list[Quantity] | list[Dimensions] | list[Weight]) -> list:
    return [(c.start, c.end) for c in cands]


def _table_money_role(text: str, table: Table, row: tuple[int, int], m: Money) -> MoneyRole:
    """Role of an amount in a table row: a keyword in its own cell (or in a label cell just
    before it, "Subtotal:"), else its column's, else price."""
    s, _ = cell_bounds(table, text, row, m.start)
    context = text[s : m.start]
    if table.delimiter is None or not context.strip():
        prev = text[row[0] : s].rstrip()
        if prev.endswith(":"):
            context = prev.rsplit("  ", 1)[-1] + " " + context
    role = last_role(ROLE_RE, context)
    if role is None:
        col = column_at(table, text, row, m.start, m.end)
        role = col.role if col.role in _MONEY_ROLES else "price"
    return role  # type: ignore[return-value]


def _read_tables(
    text: str, taken: Taken, money: list[Money], currencies: list[str]
) -> tuple[list[Money], list[Money], list[Quantity]]:
    """Money with roles from their columns, and bare amounts / counts under priced and
    quantity columns."""
    single = currencies[0] if len(currencies) == 1 else None
    tables = find_tables(text)
    if not tables:
        return money, [], []
    rows = sorted((row, t) for t in tables for row in t.rows)
    money_out, bare, counts = [], [], []
    i = 0
    for m in money:
        while i < len(rows) and rows[i][0][1] < m.start:
            i += 1
        if i < len(rows) and rows[i][0][0] <= m.start <= rows[i][0][1]:
            m = dataclasses.replace(m, role=_table_money_role(text, rows[i][1], rows[i][0], m))
        money_out.append(m)
    for row, table in rows:
        for n in NUMBER_RE.finditer(text, row[0], row[1]):
            s, e = n.span()
            if taken.overlaps(s, e):
                continue
            if table.delimiter is not None:
                cs, ce = cell_bounds(table, text, row, s)
                if text[cs:ce].strip() != n.group():
                    continue  # only a cell that is the number alone
            elif text[e : e + 1].isalpha():
                continue
            col = column_at(table, text, row, s, e)
            value = parse_number(n.group())
            if value is None or col.role is None:
                continue
            if col.role == "quantity":
                counts.append(Quantity(s, e, n.group(), value=value))
            else:
                role: MoneyRole = col.role  # type: ignore[assignment]
                cur = col.currency or single
                bare.append(Money(s, e, n.group(), value=value, currency=cur, role=role))
    return money_out, bare, counts


def read(text: str) -> Candidates:
    """Every candidate the readers find in ``text``, each list in text order."""
    dates = read_dates(text)
    base = Taken([*not_values(text), *((d.start, d.end) for d in dates)])
    money = read_money(text, base)
    taken = base.add(_spans(money))
    dimensions = read_dimensions(text, taken)
    taken = taken.add(_spans(dimensions))
    weights = read_weights(text, taken)
    quantities = read_quantities(text, taken)
    taken = taken.add(_spans(weights)).add(_spans(quantities))
    currencies = currencies_named(text, money)
    bare = read_bare_money(text, taken, currencies)
    taken = taken.add(_spans(bare))
    money, table_money, table_counts = _read_tables(text, taken, money, currencies)
    taken = taken.add(_spans(table_money)).add(_spans(table_counts))
    lead_times = read_lead_times(text, base)
    incoterms = read_incoterms(text)
    payment_terms = read_payment_terms(text)
    taken = taken.add((c.start, c.end) for c in [*lead_times, *incoterms, *payment_terms])
    return Candidates(
        money=sorted([*money, *bare, *table_money], key=lambda c: c.start),
        quantities=sorted([*quantities, *table_counts], key=lambda c: c.start),
        dimensions=dimensions,
        weights=weights,
        lead_times=lead_times,
        dates=dates,
        incoterms=incoterms,
        payment_terms=payment_terms,
        codes=read_codes(text, taken),
        brands=read_brands(text),
        currencies=currencies,
    )
