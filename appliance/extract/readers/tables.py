"""Table columns: which column of a price list a number stands in.

A header line names its columns (``Qty | Item | Price | Total``, tab-separated, or aligned
with runs of spaces as plain-text mails do); the lines below it, up to two blank lines or a
line that is not a row, are its rows. A number's column is its cell (``|``, tab) or, in an
aligned table, the header cell it overlaps most (the nearest one if none). Columns give roles:
an amount under "Total" is a total, a bare number under "Price" is a price, a bare number
under "Qty" is a quantity. A header may name the currency (``Price (EUR)``, ``Цена, руб.``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.extract.readers.money import CURRENCY, currency_of

_ROLES = (
    ("quantity", r"qty|q-?ty|quantity|ordered|кол-?во|количество|шт\.?|pcs"),
    ("total", r"(?:line\s+)?total(?:\s+price)?|sub-?\s?total|amount|sum|ext(?:ended|\.)?\s*price"
     r"|сумма|итого|всего|стоимость"),
    ("price", r"(?:unit\s+)?price(?:\s*(?:/|per)\s*\w+)?|price\s+each|rate|each|unit\s+cost"
     r"|цена(?:\s+за\s+(?:ед\.?|единицу|шт\.?))?|стоимость\s+за\s+(?:ед\.?|единицу|шт\.?)"),
    ("tax", r"vat|tax|ндс"),
    ("discount", r"discount|скидка"),
    ("shipping", r"shipping|freight|доставка"),
)  # fmt: skip
_ROLE_RES = [
    (role, re.compile(rf"(?:{rx})(?:[ \t]*[(,][ \t]*(?P<cur>{CURRENCY})[ \t]*\)?)?\.?:?", re.I))
    for role, rx in _ROLES
]
_ALIGNED_GAP = re.compile(r"\S+(?: \S+)*")  # cells of an aligned line: runs split by 2+ spaces
_SEPARATOR = re.compile(r"[\s\-=_|+:]*")


@dataclass(frozen=True)
class Column:
    start: int  # in the header line (aligned) or the cell index (delimited)
    end: int
    role: str | None
    currency: str | None


@dataclass(frozen=True)
class Table:
    delimiter: str | None  # "|", "\t", or None for an aligned table
    columns: tuple[Column, ...]
    rows: tuple[tuple[int, int], ...]  # (start, end) of each row line in the text


def _cells(line: str, delimiter: str | None) -> list[tuple[int, int, str]]:
    if delimiter is None:
        return [(m.start(), m.end(), m.group()) for m in _ALIGNED_GAP.finditer(line)]
    out, pos = [], 0
    for part in line.split(delimiter):
        out.append((pos, pos + len(part), part))
        pos += len(part) + 1
    return out


def _delimiter(line: str) -> str | None:
    return "|" if "|" in line else "\t" if "\t" in line else None


def _header(line: str) -> tuple[str | None, tuple[Column, ...]] | None:
    if any(ch.isdigit() for ch in line):
        return None  # a header names columns; a line with numbers is a row
    delimiter = _delimiter(line)
    cells = _cells(line, delimiter)
    if len([c for c in cells if c[2].strip()]) < 2:
        return None
    columns = []
    for i, (s, e, cell) in enumerate(cells):
        role = cur = None
        for name, rx in _ROLE_RES:
            m = rx.fullmatch(cell.strip())
            if m:
                role, cur = name, currency_of(m.group("cur")) if m.group("cur") else None
                break
        columns.append(Column(i if delimiter else s, i if delimiter else e, role, cur))
    if not any(c.role for c in columns):
        return None
    return delimiter, tuple(columns)


def find_tables(text: str) -> list[Table]:
    tables: list[Table] = []
    lines: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    i = 0
    while i < len(lines):
        head = _header(lines[i][1]) if len(lines[i][1]) < 300 else None
        if head is None:
            i += 1
            continue
        delimiter, columns = head
        rows: list[tuple[int, int]] = []
        blanks = 0
        j = i + 1
        while j < len(lines) and len(rows) < 1000:
            start, line = lines[j]
            if not line.strip():
                blanks += 1
                if blanks >= 2:
                    break
            elif _SEPARATOR.fullmatch(line):
                blanks = 0
            elif len([c for c in _cells(line, delimiter) if c[2].strip()]) >= 2:
                blanks = 0
                rows.append((start, start + len(line)))
            else:
                break
            j += 1
        if rows:
            tables.append(Table(delimiter, columns, tuple(rows)))
        i = j
    return tables


def column_at(table: Table, text: str, row: tuple[int, int], start: int, end: int) -> Column:
    """The column of ``text[start:end]`` (a span inside ``row``)."""
    line = text[row[0] : row[1]]
    s, e = start - row[0], end - row[0]
    if table.delimiter is not None:
        index = line.count(table.delimiter, 0, s)
        return next(
            (c for c in table.columns if c.start == index), Column(index, index, None, None)
        )

    def distance(c: Column) -> tuple[int, int]:
        overlap = min(e, c.end) - max(s, c.start)
        return (-overlap, 0) if overlap > 0 else (1, max(c.start - e, s - c.end))

    return min(table.columns, key=distance)


def cell_bounds(table: Table, text: str, row: tuple[int, int], pos: int) -> tuple[int, int]:
    """Start and end (in ``text``) of the cell of a delimited row that holds ``pos``; for an
    aligned row, the run of text around ``pos`` between gaps of two or more spaces."""
    line = text[row[0] : row[1]]
    for s, e, _ in _cells(line, table.delimiter):
        if s <= pos - row[0] <= e:
            return row[0] + s, row[0] + e
    return pos, pos
