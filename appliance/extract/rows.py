"""Items read from table rows without the model: one item per row of a table whose header
names its columns (``layout.tables``), so a price list of hundreds of rows costs no model call.

Each cell is read by the role of its column: the name and code as written; quantities, prices,
totals and MOQs as numbers (money read by the readers with its currency, else the header's
currency ``Price, EUR`` or the mail's only one); lead times as the readers read them (a bare
number in a lead-time column is days). A row without a name or without any figure is skipped.
"""

from __future__ import annotations

import re
from typing import Any

from appliance.extract import layout
from appliance.extract.choice import typed_value
from appliance.extract.contract import CURRENCIES, normalise_currency
from appliance.extract.grounding import FIELD_KEYS
from appliance.extract.readers import read
from appliance.extract.readers.numbers import parse_number
from appliance.extract.readers.types import Candidates, Quantity, Span

# A count opening a line ("27  4x6 Print", "4 bottles of Chardonnay", "3 x Chair").
_LEADING_COUNT = re.compile(r"(\d{1,6})(?:\s{2,}|\s*[x×]\s+|\s+\w+\s+of\s+)")
# A sentence-like line that is still a list entry: it opens with a count ("8 bottles of …",
# "2 x …") and is short.
_COUNTED_PROSE = re.compile(r"\d{1,6}(?:\s*[x×]\s+|\s+\w+\s+of\s+)(?=.{3,150}$)")
# A short line that equates a product with its price ("Laminate Office Station = $750. each").
_EQUATED_PROSE = re.compile(r"(?=.{3,150}$)[^=\n]{3,120}\s=\s*\S")
# What separates a code column from the next: two spaces or more, a tab, a pipe.
_COLUMN_GAP = re.compile(r"(?:\s{2,}|\t|\s*\|)[ \t|]*")
# Lines about paying or spending, not products.
_NOT_ITEM = re.compile(
    r"^(?:paid|payment|when|if|you|your|we|our|the total|balance|amount|оплачено|оплата)\b",
    re.IGNORECASE,
)
FIGURES = ("quantity", "unit_price", "total_price", "moq", "lead_time_days")


def _money(cell: Span, currency: str | None) -> tuple[float | None, str | None, str | None]:
    """Amount, currency and the unit it is "per" of one price or total cell."""
    found = read(cell.text)
    if found.money:
        m = found.money[0]
        return m.value, m.currency or currency, m.per
    return parse_number(cell.text), currency, None


def row_item(table: layout.Table, row: layout.Line, currency: str | None) -> dict[str, Any]:
    """The item of one table row in the contract's shape (only the fields it states)."""
    return cells_item(layout.row_cells(table, row), currency)


def cells_item(cells: dict[str, Span], currency: str | None) -> dict[str, Any]:
    """The item that cells by role (``name``, ``sku``, ``unit_price`` … of
    ``layout.COLUMN_SYNONYMS``) state, in the contract's shape."""
    item: dict[str, Any] = {}
    if "currency" in cells and (cur := normalise_currency(cells["currency"].text)) in CURRENCIES:
        currency = cur
    if name := cells.get("name"):
        item["product_name"] = name.text.strip()
    if code := cells.get("sku"):
        item["sku"] = code.text.strip()
    if brand := cells.get("brand"):
        item["brand"] = brand.text.strip()
    if unit := cells.get("unit"):
        item["unit"] = unit.text.strip()
    for role, fname in (("unit_price", "unit_price"), ("total", "total_price")):
        if cell := cells.get(role):
            value, cur, per = _money(cell, currency)
            if value is not None:
                item[fname] = value
                if per and role == "unit_price":
                    item.setdefault("unit", per)
                if cur:
                    item.setdefault("currency", cur)
    for role in ("quantity", "moq"):
        if cell := cells.get(role):
            q = read(cell.text).quantities
            value = q[0].value if q else parse_number(cell.text)
            if value is not None:
                item[role] = value
                if role == "quantity" and q and q[0].unit and "unit" not in item:
                    item["unit"] = q[0].unit
    if cell := cells.get("lead_time"):
        lead = read(cell.text).lead_times
        days = lead[0].days if lead else parse_number(cell.text)
        if days is not None:
            item["lead_time_days"] = int(days)
    return item


def table_items(text: str, mail_currency: str | None) -> list[dict[str, Any]]:
    """Items of every recognised table of ``text``: rows with a name and at least one figure."""
    items: list[dict[str, Any]] = []
    for table in layout.tables(text):
        currency = normalise_currency(table.currency_text) if table.currency_text else None
        currency = currency if currency in CURRENCIES else mail_currency
        for row in table.rows:
            item = row_item(table, row, currency)
            if item.get("product_name") and any(f in item for f in FIGURES):
                items.append(item)
    return items


# Keys of a key-value block that name the product although no column synonym says so
# ("Poduct Name", "Item Description"), unless they name a person or a company.
_NAME_KEY = re.compile(r"(?i)^(?:\w+\s+)?(?:name|description)$")
_NOT_PRODUCT_KEY = re.compile(
    r"(?i)^(?:company|customer|contact|first|last|full|user|account|your|supplier|vendor|bank"
    r"|ship|bill|sold|sender|recipient|file|store|shop)\b"
)


def kv_items(text: str, cands: Candidates, mail_currency: str | None) -> list[dict[str, Any]]:
    """Items of key-value blocks: runs of ``Key: value`` lines whose keys are an item's fields
    (``Product Name: …``, ``Quantity: 170 kg``, ``Unit Price: $19.00``), one item per run, a
    repeated key starting the next. An item needs a name and a figure or code, and the blocks
    count where one of them prices its product or every one states its quantity or MOQ (an
    unpriced offer: "Product: … / Quantity: 100 pcs"); the block's own dimensions, weight and
    lead time join its item."""
    items: list[dict[str, Any]] = []
    cells: dict[str, Span] = {}
    block = [0, 0]

    def flush() -> None:
        item = cells_item(cells, mail_currency) if "name" in cells else {}
        for role in ("quantity", "moq"):  # read in context: "Quantity: 170 kg" is a count
            if (cell := cells.get(role)) and (q := _within(cands.quantities, cell.start, cell.end)):
                item[role] = q[0].value
                if role == "quantity" and q[0].unit:
                    item["unit"] = q[0].unit
        if item.get("product_name") and (any(f in item for f in FIGURES) or "sku" in item):
            taken = tuple(c for r, c in cells.items() if r in ("quantity", "moq"))
            _own_facts(item, cands, block[0], block[1], taken)
            items.append(item)
        cells.clear()

    for line in layout.lines(text):
        if line.kind != "kv":
            if not (len(line.text.strip()) <= 40 and line.text.rstrip().endswith(":")):
                flush()  # a key without a value ("Attributes   :") does not end the block
            continue
        key, value = line.cells[0].text.strip(), line.cells[1]
        if cells:
            block[1] = line.end  # "Weight: 26.5 kg" belongs to the block's item too
        role = layout.column_role(key)
        if role is None and _NAME_KEY.match(key) and not _NOT_PRODUCT_KEY.match(key):
            role = "name"
        if role is None or not value.text.strip():
            continue
        if role in cells:
            flush()
        if not cells:
            block[0] = line.start
        cells[role] = value
        block[1] = line.end
    flush()
    priced = any("unit_price" in i or "total_price" in i for i in items)
    counted = all("quantity" in i or "moq" in i for i in items)
    return items if priced or counted else []


def _in_line(spans: list[Any], line: layout.Line) -> list[Any]:
    return _within(spans, line.start, line.end)


def _within(spans: list[Any], start: int, end: int) -> list[Any]:
    return [s for s in spans if start <= s.start and s.end <= end]


def _own_facts(
    item: dict[str, Any], cands: Candidates, start: int, end: int, taken: tuple[Span, ...] = ()
) -> None:
    """Fill ``item``'s code, dimensions, weight and lead time the readers found between
    ``start`` and ``end`` (its line or block), where it has none yet; spans overlapping
    ``taken`` (a quantity already read: "Quantity: 170 kg") do not count."""
    for attr, fname in (("codes", "sku"), ("dimensions", "dimensions"),
                        ("weights", "weight"), ("lead_times", "lead_time_days")):  # fmt: skip
        own = [
            s
            for s in _within(getattr(cands, attr), start, end)
            if not any(s.start < t.end and t.start < s.end for t in taken)
        ]
        if own and fname not in item:
            item[fname] = typed_value(FIELD_KEYS[fname], own[0])


def line_items(text: str, cands: Candidates) -> list[dict[str, Any]]:
    """Items of a list whose lines each price one product (bullets, numbered lines, rows
    without a recognised header, lines that open with a count: ``8 bottles of … @ $65.00``,
    lines that equate a product with its price: ``Oak desk = $2100. each``): at least two such
    lines, each one item. The name is the line's text before its first price or quantity; the
    facts are the line's own. A line with two amounts and a quantity reads them as unit price
    and total; without a quantity, the last amount is the price; a row that opens with a count
    of several and holds one amount reads it as the line total. A price "per" unit gives the
    unit."""
    found: list[dict[str, Any]] = []
    counted = False
    for line in layout.lines(text):
        if line.kind not in ("bullet", "row") and not (
            line.kind == "prose"
            and (
                _COUNTED_PROSE.match(text, line.start, line.end)
                or _EQUATED_PROSE.match(text, line.start, line.end)
            )
        ):
            continue
        money = [m for m in _in_line(cands.money, line) if m.role in ("price", "total", "other")]
        if not any(m.role != "total" for m in money):
            continue
        qty = _in_line(cands.quantities, line)
        body = line.cells[0]
        start = body.start
        column_count = False
        if m := _LEADING_COUNT.match(text, start, line.end):  # "27  4x6 Print", "4 bottles of"
            start = m.end()
            counted = True
            column_count = line.kind == "row" and float(m.group(1)) > 1
            if not qty:
                qty = [Quantity(m.start(1), m.end(1), m.group(1), value=float(m.group(1)))]
        for code in _in_line(cands.codes, line):  # a leading code column is not the name
            gap = _COLUMN_GAP.match(text, code.end, line.end)
            if code.start == start and gap:
                start = gap.end()
        figures = [s.start for s in money + qty if s.start >= start]
        name = _name_before(text, Span(start, line.end, text[start : line.end]), figures)
        if not name or layout.TOTAL_WORDS.search(name) or _NOT_ITEM.match(name):
            continue
        item: dict[str, Any] = {"product_name": name}
        prices = [m for m in money if m.role != "total"]
        totals = [m for m in money if m.role == "total"]
        q = [x for x in qty if x.role in ("quantity", "other")]
        paid = [m for m in prices if m.value]
        if not q and not paid:
            continue  # "Microfilters  $0.00  $0.00": nil amounts and no quantity price nothing
        if column_count and len(money) == len(prices) == 1 and not prices[0].per:
            # "27  4x6 Print (4x6)      $13.23": a count column and one amount is the line's
            # total (an order summary), not the price of each.
            prices, totals = [], prices
        if len(prices) >= 2 and not totals:
            # With a quantity: price and line total. Without, nothing makes one a total: the
            # amounts are revisions, list and net, one-off and monthly: the last that is not
            # nil counts.
            prices, totals = (prices[:1], prices[1:2]) if q else (paid[-1:], [])
        if prices:
            item["unit_price"] = prices[0].value
            item["currency"] = prices[0].currency
            if prices[0].per:
                item["unit"] = prices[0].per
        if totals:
            item["total_price"] = totals[0].value
            item["currency"] = item.get("currency") or totals[0].currency
        if q:
            item["quantity"] = q[0].value
            if q[0].unit:
                item["unit"] = q[0].unit
        _own_facts(item, cands, line.start, line.end)
        found.append({k: v for k, v in item.items() if v is not None})
    # Two priced lines make a list; one is a list only when it opens with a count ("27  4x6
    # Print   $13.23"): a lone priced sentence is left to the model.
    return found if len(found) >= 2 or (found and counted) else []


# A label left at the end of a name cut before its figure ("Chair Qty=", "Chair, price:").
_LABEL_TAIL = re.compile(
    r"(?i)[\s,;]+(?:qty|quantity|price|unit price|cost|amount|кол-во|количество|цена)\s*[=:]?$"
)


def _name_before(text: str, body: layout.Span, figures: list[int]) -> str | None:
    end = min(figures, default=body.end)
    cut = text[body.start : end].strip().rstrip(" :=-–—,;(|\t@").strip()
    cut = _LABEL_TAIL.sub("", cut.removesuffix(" at").removesuffix(" по")).strip(" :-–—,;(")
    return cut if len(cut) >= layout.MIN_NAME and any(c.isalpha() for c in cut) else None
