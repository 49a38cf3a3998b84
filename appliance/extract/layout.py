"""Items from the layout of a mail's text: lines, the spans that can name a product, and tables.

Three things the grounded extraction needs from the text's shape:

- ``lines``: each line with its span and what it looks like (blank, bullet, table row,
  key-value, prose) and its cells;
- ``name_options``: the spans of text that may name a product (a bullet's text, a key-value
  line's value, a table cell, a line or a clause of one, with any trailing quantity/price part
  cut off): the model chooses among these, it never writes a name;
- ``tables``: a table (rows split by ``|``, tabs or runs of spaces) whose header names its
  columns (EN/RU synonyms: name, SKU, quantity, unit, price, total, currency, MOQ, lead time) is
  read row by row without the model: a price list of 500 rows costs no model call. Section
  rows (a lone text cell), repeated header rows and total/VAT rows are skipped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from appliance.extract.readers.types import Span

LineKind = Literal["blank", "bullet", "row", "kv", "prose"]

MAX_NAME = 80
MIN_NAME = 3

_BULLET = re.compile(r"^\s*(?:[-*•·–—►▪◦]|\d{1,3}[.)]|[a-zа-я][.)])\s+", re.IGNORECASE)
_KV = re.compile(r"^\s*([^\W\d][\w .,/()#№-]{0,38}?)\s*[:=]\s+(?=\S)")
# "Product Code :4440.91", "Unit Price   :$19.00": a key padded to a colon column.
_PADDED_KV = re.compile(r"^\s*([^\W\d][\w .,/()#№-]{0,38}?)\s+:\s*(?=\S)")
_CELL_SPLIT = re.compile(r"\s*\|\s*|\t+|\s{2,}")
# "Item=Chair Qty=2 Price=$10": a label and "=" after a blank or the line start (not "?a=1&b=2").
_PAIR_KEY = re.compile(r"(?:^|(?<=\s))[^\W\d][\w./#-]{0,24}\s*=\s*")
_CLAUSE_SPLIT = re.compile(r"\s*(?:[:;|]|,(?=\s)|\.\s|\s[-–—]\s|\(|\)|\bat\s|\bпо\s)\s*")
_RULE_ROW = re.compile(r"^[\s|:+=_-]*$")
_LETTER = re.compile(r"[^\W\d_]")
TOTAL_WORDS = re.compile(
    r"\b(?:sub-?total|total|vat|tax|shipping|freight|discount|grand total|итого|всего|"
    r"в т\.\s?ч\.|ндс|доставка|скидка|сумма)\b",
    re.IGNORECASE,
)
# Words that begin a line which is about the mail, not a product.
_OFFER_WORDS = re.compile(
    r"(?i)(?:(?:our|new|special|price|commercial)\s+)?(?:offer|quote|quotation|price\s*list|"
    r"proposal)s?|(?:коммерческое\s+)?предложение|кп|прайс(?:-лист)?|счёт|счет"
)
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|ответ|пересл)\s*:\s*)+", re.I)
# Labels of a field are not product names ("MOQ", "Price", "Цена").
_LABEL_ONLY = re.compile(
    r"^(?:moq|min(?:imum)?\.?\s+order(?:\s+quantity)?|price|unit\s+price|total|qty|quantity|"
    r"lead\s+time|delivery|weight|dimensions|size|art|sku|item|цена|количество|кол-во|"
    r"минимальная\s+партия|срок(?:\s+поставки)?|вес|размеры|артикул|арт)\.?$",
    re.IGNORECASE,
)
_LABEL_START = re.compile(
    r"(?i)^(?:moq|min(?:imum)?\.?\s+order|prices?|unit\s+price|total|qty|quantity|lead\s+time|"
    r"delivery|payment|terms|valid|offer\s+valid|цена|стоимость|количество|кол-во|"
    r"минимальн\w+|мин\.|срок|доставка|оплата|предложение\s+действ|brand|made\s+by|"
    r"manufacturer|art|sku|item\s*(?:#|no)|p/n|part\s+no|артикул|арт|код|марка|производ\w+)(?!\w)"
)
_NOT_A_NAME = re.compile(
    r"^(?:dear|hello|hi|hey|thanks?|thank you|best|kind|regards|sincerely|please|sent from|"
    r"здравствуйте|добрый|уважаем|с уважением|спасибо|всего доброго)\b",
    re.IGNORECASE,
)

# Column roles of a table header, by synonyms (EN/RU), in order of precedence.
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "art", "art.", "article", "item no", "item #", "item number", "part no",
            "p/n", "part number", "code", "cat. no", "product no", "product number",
            "product code", "product id", "model no", "model number", "catalog no",
            "catalogue no", "catalog number", "item code", "артикул", "арт", "арт.", "код"),
    "total": ("total", "subtotal", "sub total", "amount", "sum", "line total", "ext. price",
              "ext price", "extended", "extended price", "сумма",
              "стоимость", "итого"),
    "unit_price": ("unit price", "price", "price per unit", "rate", "цена", "цена за ед",
                   "цена за единицу", "unit cost", "cost"),
    "quantity": ("qty", "quantity", "qnty", "amount ordered", "кол-во", "количество", "кол."),
    "unit": ("unit", "uom", "u/m", "ед", "ед.", "ед. изм", "ед. изм.", "единица"),
    "currency": ("currency", "cur", "валюта"),
    "moq": ("moq", "min order", "minimum order", "min. order", "min qty", "мин. партия",
            "минимальная партия", "мин. заказ"),
    "lead_time": ("lead time", "delivery", "delivery time", "срок", "срок поставки"),
    "brand": ("brand", "manufacturer", "make", "vendor brand", "бренд", "производитель",
              "марка", "торговая марка"),
    "name": ("product", "item", "description", "name", "product name", "goods", "model",
             "наименование", "товар", "описание", "продукция", "модель", "название"),
}  # fmt: skip


@dataclass(frozen=True)
class Line:
    """One line of the text: its span, its kind and its cells (a row's columns, a key-value
    line's key and value, else the line itself)."""

    start: int
    end: int
    text: str
    kind: LineKind
    cells: tuple[Span, ...] = ()


@dataclass
class Table:
    """A table read by its header: the column role of each header cell and the data rows."""

    header: Line
    roles: dict[int, str]
    rows: list[Line] = field(default_factory=list)
    # Currency named in the header (``Price, EUR``, ``Цена, руб.``), as written.
    currency_text: str | None = None


def _cells(text: str, offset: int, splitter: re.Pattern[str]) -> tuple[Span, ...]:
    out = []
    pos = 0
    for m in splitter.finditer(text):
        if m.start() > pos:
            out.append(Span(offset + pos, offset + m.start(), text[pos : m.start()]))
        pos = m.end()
    if pos < len(text):
        out.append(Span(offset + pos, offset + len(text), text[pos:]))
    return tuple(c for c in out if c.text.strip())


def _trimmed(text: str, start: int, end: int) -> Span | None:
    """The span ``text[start:end]`` without surrounding blanks and punctuation, or None."""
    while start < end and (text[start].isspace() or text[start] in "-*•·:;,.|"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in "-*•·:;,|"):
        end -= 1
    return Span(start, end, text[start:end]) if end > start else None


@functools.lru_cache(maxsize=8)
def lines(text: str) -> tuple[Line, ...]:
    """Every line of ``text`` with its kind and cells (offsets into ``text``). Cached: the
    table, list, key-value and stated-fact readers of one mail all walk the same lines."""
    out: list[Line] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        start, end = pos, pos + len(body)
        pos += len(raw)
        stripped = body.strip()
        if not stripped:
            out.append(Line(start, end, body, "blank"))
            continue
        lead = len(body) - len(body.lstrip())
        cells = _cells(stripped, start + lead, _CELL_SPLIT)
        keys = list(_PAIR_KEY.finditer(stripped))
        if len(keys) >= 2:  # labelled values in one line: a row whose cells are the values
            ends = [k.start() for k in keys[1:]] + [len(stripped)]
            values = (
                _trimmed(text, start + lead + k.end(), start + lead + e)
                for k, e in zip(keys, ends, strict=True)
            )
            out.append(Line(start, end, body, "row", tuple(v for v in values if v)))
        elif m := _BULLET.match(body):
            out.append(
                Line(start, end, body, "bullet", (Span(start + m.end(), end, body[m.end() :]),))
            )
        elif (
            len(cells) >= 2
            and not _PADDED_KV.match(body)
            and ("|" in body or "\t" in body or re.search(r"\S\s{2,}\S", stripped))
        ):
            out.append(Line(start, end, body, "row", cells))
        elif m := _KV.match(body) or _PADDED_KV.match(body):
            key = Span(start + m.start(1), start + m.end(1), m.group(1))
            out.append(
                Line(start, end, body, "kv", (key, Span(start + m.end(), end, body[m.end() :])))
            )
        else:
            out.append(Line(start, end, body, "prose", (Span(start, end, body),)))
    return tuple(out)


def _clauses(text: str, span: Span) -> Iterator[Span]:
    """The span itself and its clauses (split at ``:;|,()`` and dashes)."""
    yield span
    pos = 0
    for m in _CLAUSE_SPLIT.finditer(span.text):
        if m.start() > pos and (s := _trimmed(text, span.start + pos, span.start + m.start())):
            yield s
        pos = m.end()
    if pos and pos < len(span.text) and (s := _trimmed(text, span.start + pos, span.end)):
        yield s


def _cut_before(text: str, span: Span, cuts: list[int]) -> Span | None:
    """``span`` cut before the first position of ``cuts`` inside it (a quantity or price)."""
    inside = [c for c in cuts if span.start < c < span.end]
    if not inside:
        return None
    return _trimmed(text, span.start, min(inside))


def name_options(
    text: str,
    subject: str = "",
    cuts: list[int] | None = None,
    avoid: list[tuple[int, int]] | None = None,
) -> list[str]:
    """Texts that may name a product, each a span of ``text`` (or of ``subject``), in text
    order, without repeats: lines, their clauses, bullets, key-value values and table cells,
    also cut before the first of ``cuts`` (start offsets of quantities and prices) inside
    them. Between ``MIN_NAME`` and ``MAX_NAME`` characters, holding a letter, not opening
    with a field's label ("MOQ …", "Цена …") and not holding a span of ``avoid`` (dates,
    terms, lead times: a sentence about validity or delivery names no product)."""
    avoid = avoid or []
    cuts = sorted(cuts or [])
    cut_set = set(cuts)
    seen: dict[str, None] = {}

    def add(s: Span | None, source: str) -> None:
        if s is None:
            return
        t = s.text.strip()
        if not (MIN_NAME <= len(t) <= MAX_NAME) or not _LETTER.search(t):
            return
        if _NOT_A_NAME.match(t) or _LABEL_ONLY.match(t) or "@" in t or "://" in t:
            return
        if _LABEL_START.match(t):
            return
        if source is text and any(s.start < b and a < s.end for a, b in avoid):
            return
        if t in source and not (source is text and s.start in cut_set):
            seen.setdefault(t, None)

    for line in lines(text):
        if line.kind == "blank":
            continue
        spans = list(line.cells)
        if line.kind in ("bullet", "prose", "kv"):
            spans = [s for c in spans for s in _clauses(text, c)]
        for s in spans:
            for v in (s, _without_lead_in(text, s)):
                add(v, text)
                add(_cut_before(text, v, cuts) if v else None, text)
    # The subject's clauses last (a subject names the offer more often than one product);
    # the whole subject only when it has no clauses ("Offer: chairs" offers "chairs").
    subj = _SUBJECT_PREFIX.sub("", subject).strip()
    if subj:
        whole = Span(subject.index(subj), subject.index(subj) + len(subj), subj)
        parts = list(_clauses(subject, whole))
        body = [_words(t) for t in seen]
        for s in parts[1:] or parts:
            words = _words(s.text)
            if _OFFER_WORDS.fullmatch(s.text.strip()) or any(
                len(words & b) * 2 >= len(words) for b in body
            ):
                continue  # "Коммерческое предложение", or the body names it better
            add(s, subject)
    return list(seen)  # fmt: skip


_LEAD_IN = re.compile(
    r"(?i)^(?:(?:we|i)\s+(?:can|could|would like to|are pleased to|are happy to)?\s*"
    r"(?:offer|supply|quote|propose|deliver)(?:\s+you)?|please find(?:\s+our)?|"
    r"(?:мы\s+)?(?:предлагаем|можем\s+предложить|поставляем)(?:\s+вам)?)\s+"
)


def _without_lead_in(text: str, span: Span) -> Span | None:
    """``span`` without an opening "we can supply" / "предлагаем вам", or None."""
    m = _LEAD_IN.match(span.text)
    return _trimmed(text, span.start + m.end(), span.end) if m else None


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def column_role(cell: str) -> str | None:
    """The field a column header or a key names (``layout.COLUMN_SYNONYMS``), or None."""
    low = " ".join(re.sub(r"[,(].*$", "", cell.casefold()).split()).strip(" .:#*|")
    for role, words in COLUMN_SYNONYMS.items():
        if low in words or any(low.startswith(w + " ") for w in words if len(w) > 3):
            return role
    return None


_DESCRIPTION = re.compile(r"(?i)^(?:description|product(?: name)?|наименование|описание|товар)")


def _prefer_description(roles: dict[int, str], cells: tuple[Span, ...]) -> dict[int, str]:
    """Of two name columns ("Item" and "Description"), the description names the product and
    the other holds its code."""
    names = [i for i, r in roles.items() if r == "name"]
    if len(names) > 1:
        main = next((i for i in names if _DESCRIPTION.match(cells[i].text.strip())), names[-1])
        for i in names:
            if i != main:
                roles[i] = "sku" if "sku" not in roles.values() else "other"
    return roles


def _header_currency(cells: tuple[Span, ...], roles: dict[int, str]) -> str | None:
    for i, role in roles.items():
        if role in ("unit_price", "total"):
            m = re.search(r"[,(]\s*([^\s,()]+)\s*\)?\s*$", cells[i].text)
            if m:
                return m.group(1)
    return None


def tables(text: str) -> list[Table]:
    """Tables of ``text`` whose header names a product column and a price or quantity column,
    with their data rows (section rows, repeated headers, total/VAT rows left out)."""
    out: list[Table] = []
    current: Table | None = None
    gap = 0
    for line in lines(text):
        roles = _prefer_description(
            {i: r for i, c in enumerate(line.cells) if (r := column_role(c.text))}, line.cells
        )
        is_header = (
            line.kind == "row"
            and "name" in roles.values()
            and ({"unit_price", "total", "quantity"} & set(roles.values()))
        )
        if is_header:
            if current is not None and len(roles) == len(current.roles):
                continue  # the header repeated (a new page of the list)
            current = Table(line, roles, currency_text=_header_currency(line.cells, roles))
            out.append(current)
            gap = 0
            continue
        if current is None:
            continue
        if line.kind == "blank" or _RULE_ROW.match(line.text):
            gap += line.kind == "blank"
            if gap >= 2:
                current = None
            continue
        gap = 0
        if line.kind != "row" or len(line.cells) < 2:
            if len(line.cells) == 1 and not re.search(r"\d", line.text):
                continue  # a section row ("Кабели силовые")
            current = None
            continue
        if TOTAL_WORDS.search(line.cells[0].text) and not _LETTER.search(line.cells[-1].text):
            continue
        current.rows.append(line)
    return [t for t in out if t.rows]


def _fixed_width(table: Table, row: Line) -> dict[str, Span]:
    """Cells of a row of a space-aligned table, sliced at the header's column starts (a token
    crossing a boundary belongs to the column where it starts)."""
    text, h0 = row.text, table.header.start
    bounds = [c.start - h0 for c in table.header.cells] + [max(len(text), 1) + 1]
    bounds[0] = 0
    for k in range(1, len(bounds) - 1):
        b = min(bounds[k], len(text))
        while 0 < b < len(text) and not text[b - 1].isspace() and not text[b].isspace():
            b -= 1  # move left to the start of the token that crosses the boundary
        bounds[k] = max(b, bounds[k - 1])
    out: dict[str, Span] = {}
    for i, role in table.roles.items():
        lo, hi = bounds[i], min(bounds[i + 1], len(text))
        if (cell := _trimmed(text, lo, hi)) is not None:
            out.setdefault(role, Span(row.start + cell.start, row.start + cell.end, cell.text))
    return out


def row_cells(table: Table, row: Line) -> dict[str, Span]:
    """The cells of ``row`` by column role: by position when the header is split by ``|`` or
    tabs and the counts agree; sliced at the header's column starts when the header is aligned
    by spaces; else by the nearest header cell in character column."""
    header = table.header.cells
    out: dict[str, Span] = {}
    aligned = "|" not in table.header.text and "\t" not in table.header.text
    if aligned and "|" not in row.text and "\t" not in row.text:
        return _fixed_width(table, row)
    if len(row.cells) == len(header):
        for i, cell in enumerate(row.cells):
            if i in table.roles:
                out.setdefault(table.roles[i], cell)
        return out
    h0 = table.header.start
    centers = [((c.start + c.end) / 2 - h0) for c in header]
    r0 = row.start
    for cell in row.cells:
        mid = (cell.start + cell.end) / 2 - r0
        i = min(range(len(centers)), key=lambda k: abs(centers[k] - mid))
        if i in table.roles:
            out.setdefault(table.roles[i], cell)
    return out
