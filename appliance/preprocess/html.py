"""HTML mail body → readable plain text (stdlib ``html.parser`` only).

Block elements become lines, ``<br>`` a line break, table rows one line each with cells joined
by " | ", list items "- " lines, ``<blockquote>`` lines prefixed with "> " (so that quote
stripping sees them), script/style/head dropped, entities unescaped, whitespace collapsed.
Malformed HTML (unclosed cells, rows, tables) is handled leniently; it never raises.

Hostile input is bounded (time roughly linear in the size; no recursion anywhere):

- ``<blockquote>`` and ``<table>`` open a buffer each, and closing one re-reads the text inside,
  so nesting costs depth × size: past ``max_depth`` levels (``preprocess.max_html_depth``)
  deeper ones are read as plain blocks (their text kept, no further "> " level or table).
- The stdlib parser re-scans to the end of the input for every ``<`` that no ``>`` follows
  (``"</" * 100_000`` is quadratic); ``_defuse`` first turns each ``<`` with no ``>`` within
  ``TAG_WINDOW`` characters into ``&lt;`` (text, as a browser would show it).
- The size is capped by the caller (``preprocess.max_html_chars``, ``preprocess.body``).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "ul", "ol", "dl", "table", "hr"}
_BLOCK = _PARAGRAPH | {
    "div", "li", "dt", "dd", "section", "article", "header", "footer", "nav", "aside",
    "address", "form", "fieldset", "figure", "figcaption", "main", "center", "caption",
    "tr", "tbody", "thead", "tfoot", "blockquote", "body", "html",
}  # fmt: skip
_CELL = {"td", "th"}
_SPACES = re.compile(r"[ \t\f\v\r\n\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200c\u200d\u2060\ufeff\u00ad]")
_KEPT_SPACE = "\ue000"  # a space inside <pre>, protected from collapsing until the end
_NL = "\n"
# Default nesting of <blockquote>/<table> read as such (preprocess.max_html_depth).
MAX_DEPTH = 8
# A "<" with no ">" within this many characters is text, not the start of a tag.
TAG_WINDOW = 65536
_LONE_LT = re.compile(r"<(?![A-Za-z/!?])")
_PARA = "\n\n"


@dataclass
class _Table:
    depth: int  # len(buffers) when the table opened
    rows: list[list[str]] = field(default_factory=list)
    row: list[str] | None = None
    in_cell: bool = False


def _finish(parts: list[str]) -> str:
    """Join buffer parts; strip and collapse spaces per line, keep at most one blank line."""
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _defuse(html: str, window: int = TAG_WINDOW) -> str:
    """``html`` with every ``<`` that no ``>`` follows within ``window`` characters, or that
    cannot open a tag, written ``&lt;`` (linear: one split at ``>``, then per piece only its
    last ``window`` characters may keep their ``<``)."""
    if "<" not in html:
        return html
    # A "<" not followed by a letter, "/", "!" or "?" is text to the parser too, one call each.
    html = _LONE_LT.sub("&lt;", html)
    pieces = html.split(">")
    last = len(pieces) - 1
    for k, piece in enumerate(pieces):
        if "<" not in piece:
            continue
        cut = len(piece) if k == last else max(0, len(piece) - window)
        if cut:
            pieces[k] = piece[:cut].replace("<", "&lt;") + piece[cut:]
    return ">".join(pieces)


class _TextBuilder(HTMLParser):
    def __init__(self, max_depth: int = MAX_DEPTH) -> None:
        super().__init__(convert_charrefs=True)
        self.max_depth = max_depth
        self.flat_quotes = 0  # <blockquote>s past max_depth, read as plain blocks
        self.flat_tables = 0  # <table>s past max_depth, their cells merged into the outer one
        self.buffers: list[list[str]] = [[]]
        self.tables: list[_Table] = []
        self.quote_depths: list[int] = []  # buffer depth at each open <blockquote>
        self.skip: list[str] = []
        self.pre = 0

    # -- buffers -------------------------------------------------------------------------
    def _emit(self, text: str) -> None:
        self.buffers[-1].append(text)

    def _push(self) -> None:
        self.buffers.append([])

    def _pop(self) -> str:
        return _finish(self.buffers.pop()) if len(self.buffers) > 1 else ""

    # -- tables --------------------------------------------------------------------------
    def _close_cell(self, table: _Table) -> None:
        if table.in_cell:
            while self.quote_depths and self.quote_depths[-1] > table.depth + 1:
                self._close_quote()  # a blockquote left open inside the cell
            cell = self._pop()
            table.in_cell = False
            if table.row is None:
                table.row = []
            table.row.append(cell)

    def _close_row(self, table: _Table) -> None:
        self._close_cell(table)
        if table.row is not None:
            table.rows.append(table.row)
            table.row = None

    def _close_table(self) -> None:
        table = self.tables.pop()
        self._close_row(table)
        lines: list[str] = []
        for row in table.rows:
            if not any(row):
                continue
            if len(row) == 1:
                lines.append(row[0])
            else:
                lines.append(" | ".join(" ".join(cell.split("\n")) for cell in row))
        self._emit(_PARA + "\n".join(lines) + _PARA)

    def _close_quote(self) -> None:
        if not self.quote_depths:
            return
        self.quote_depths.pop()
        text = self._pop()
        quoted = "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
        self._emit(_PARA + quoted + _PARA)

    # -- parser callbacks ----------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip:
            if tag == self.skip[-1] and tag not in _VOID:
                self.skip.append(tag)
            return
        if tag in _SKIP:
            self.skip.append(tag)
            return
        table = self.tables[-1] if self.tables else None
        deep = len(self.tables) + len(self.quote_depths) >= self.max_depth
        if tag == "br":
            self._emit(_NL)
        elif tag == "table" and deep:
            self.flat_tables += 1
            self._emit(_PARA)
        elif tag == "blockquote" and deep:
            self.flat_quotes += 1
            self._emit(_PARA)
        elif tag == "table":
            if table is not None and not table.in_cell:  # table directly in a table: own cell
                self._start_cell(table)
            self.tables.append(_Table(depth=len(self.buffers)))
        elif tag == "tr" and table is not None:
            self._close_row(table)
            table.row = []
        elif tag in _CELL and table is not None:
            self._close_cell(table)
            self._start_cell(table)
        elif tag == "blockquote":
            self._push()
            self.quote_depths.append(len(self.buffers))
        elif tag == "li":
            self._emit(_NL + "- ")
        elif tag == "pre":
            self.pre += 1
            self._emit(_PARA)
        elif tag == "img":
            pass
        elif tag in _PARAGRAPH:
            self._emit(_PARA)
        elif tag in _BLOCK:
            self._emit(_NL)
        elif tag in _CELL:  # a cell outside any table: separate it from its neighbours
            self._emit(" ")

    def _start_cell(self, table: _Table) -> None:
        if table.row is None:
            table.row = []
        self._push()
        table.in_cell = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag == self.skip[-1]:
                self.skip.pop()
            return
        table = self.tables[-1] if self.tables else None
        if tag == "table" and self.flat_tables:
            self.flat_tables -= 1
            self._emit(_PARA)
        elif tag == "blockquote" and self.flat_quotes:
            self.flat_quotes -= 1
            self._emit(_PARA)
        elif tag == "table" and table is not None:
            while self.quote_depths and self.quote_depths[-1] > table.depth:
                self._close_quote()
            self._close_table()
        elif tag == "tr" and table is not None:
            self._close_row(table)
        elif tag in _CELL and table is not None:
            self._close_cell(table)
        elif tag == "blockquote":
            if self.quote_depths and (table is None or self.quote_depths[-1] > table.depth):
                self._close_quote()
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._emit(_PARA)
        elif tag in _PARAGRAPH:
            self._emit(_PARA)
        elif tag in _BLOCK:
            self._emit(_NL)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        data = _ZERO_WIDTH.sub("", data)
        if self.pre:
            data = data.replace("\r\n", "\n").replace("\t", "    ")
            self._emit(data.replace(" ", _KEPT_SPACE).replace("\u00a0", _KEPT_SPACE))
        else:
            self._emit(_SPACES.sub(" ", data))

    def result(self) -> str:
        self.close()
        while self.tables:
            self._close_table()
        while self.quote_depths:
            self._close_quote()
        while len(self.buffers) > 1:  # anything still open
            text = self._pop()
            self._emit(_NL + text + _NL)
        return _finish(self.buffers[0])


def html_to_text(html: str, *, max_depth: int = MAX_DEPTH) -> str:
    """Convert an HTML document or fragment to readable plain text (never raises).
    ``max_depth``: nested ``<blockquote>``/``<table>`` levels read as such (see above)."""
    builder = _TextBuilder(max(1, max_depth))
    with contextlib.suppress(Exception):  # HTMLParser is lenient; guard the unexpected
        builder.feed(_defuse(html))
    return builder.result().replace(_KEPT_SPACE, " ")
