"""Offers, items, corrections and the supplier catalogue (``catalogue_export``) as CSV or
Parquet files, written by DuckDB's own ``COPY``.

The selections are those of the lists (``store.sync.Filters``: state, supplier, ``q``,
``updated_since``…). Timestamps are UTC; JSON columns (a correction's before/after) are JSON
text. Each configured extra field (``[[extraction.fields]]``) of the level exported gets a column
``extra_<name>`` of its type. The caller owns the file (the API streams it back and deletes it).

CSV formula injection: every CSV export goes through ``write``, and there through one helper,
``csv_safe_select``, which prefixes a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or
carriage return with a single quote (``'=HYPERLINK(…)`` is shown as text by Excel and
LibreOffice, not evaluated). Only text cells are touched: numeric columns stay numbers, and a
text cell that is a plain number (``-5``, ``+3.5``, ``-0,25``) is left alone, since a spreadsheet
reads it as that number and nothing else. Parquet files are typed and are written unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import InvalidRequest
from appliance.extract.contract import EXTRA_NAME_RE
from appliance.extract.fields import ExtraField, of_level
from appliance.store import catalogue_export, sync
from appliance.store.db import Database
from appliance.store.offers import ITEM_COLUMNS


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    copy_options: str


FORMATS: dict[str, Format] = {
    "csv": Format("csv", "text/csv", "FORMAT csv, HEADER true"),
    "parquet": Format("parquet", "application/vnd.apache.parquet", "FORMAT parquet"),
}
KINDS = ("offers", "items", "corrections", *catalogue_export.KINDS)

_OFFER_COLS = (
    "o.id, o.state, o.supplier_id, o.supplier_name, o.supplier_email, o.contact_addr,"
    " o.subject, o.token AS reference, o.language, o.valid_until, o.incoterms, o.payment_terms,"
    " (SELECT count(*) FROM offer_items c WHERE c.offer_id = o.id) AS item_count, o.rounds,"
    " o.reviewed_by, o.reviewed_at, o.mail_id, o.model, o.created_at, o.updated_at"
)
_ITEM_COLS = (
    "i.id, i.offer_id, i.position, o.state AS offer_state, o.supplier_id, o.supplier_name,"
    f" o.supplier_email, {', '.join(f'i.{c}' for c in ITEM_COLUMNS)}, o.updated_at"
)
_SQL_TYPES = {"number": "DOUBLE", "integer": "BIGINT", "boolean": "BOOLEAN"}


def _extra_cols(table: str, extra: Sequence[ExtraField]) -> str:
    """``, CAST(<table>.extra->>'$.color' AS …) AS extra_color`` per extra field."""
    cols = []
    for f in extra:
        if not EXTRA_NAME_RE.fullmatch(f.name):  # names are checked by the settings already
            raise InvalidRequest(f"not an extra field name: {f.name!r}")
        value = f"{table}.extra->>'$.{f.name}'"
        typ = _SQL_TYPES.get(f.kind)
        cols.append(f", {f'CAST({value} AS {typ})' if typ else value} AS extra_{f.name}")
    return "".join(cols)


_CORRECTION_COLS = (
    "id, offer_id, mail_id, item_position, field, action, CAST(before AS VARCHAR) AS before,"
    " CAST(after AS VARCHAR) AS after, user_name, comment, created_at"
)


# A text cell a spreadsheet would read as a formula starts with one of these (OWASP's list)...
FORMULA_START = "=+-@\t\r"
_FORMULA_START_RE = r"^[=+\-@\t\r]"
# ... unless the whole cell is a plain number, which a spreadsheet reads as that number.
_PLAIN_NUMBER_RE = r"^[+-]?[0-9]+([.,][0-9]+)?$"
_TEXT_TYPES = ("VARCHAR", "JSON")


def neutralise_cell(value: str) -> str:
    """The rule of ``csv_safe_select`` for one text cell, in Python: a ``'`` before a cell that
    would start a formula; a plain number (``-5``) and any other text unchanged."""
    if re.match(_FORMULA_START_RE, value) and not re.fullmatch(_PLAIN_NUMBER_RE, value):
        return "'" + value
    return value


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _neutralised(name: str) -> str:
    text = f"CAST({_ident(name)} AS VARCHAR)"
    return (
        f"CASE WHEN regexp_matches({text}, '{_FORMULA_START_RE}')"
        f" AND NOT regexp_matches({text}, '{_PLAIN_NUMBER_RE}')"
        f" THEN '''' || {text} ELSE {text} END AS {_ident(name)}"
    )


def csv_safe_select(db: Database, sql: str, params: Sequence[Any]) -> str:
    """``sql`` wrapped so that every text column's cells pass ``neutralise_cell``: the one
    formula-injection guard of all CSV exports (offers, items, corrections, catalogue,
    catalogue history). Numeric, date and boolean columns are untouched. Call with ``db.lock``
    held."""
    described = db.con.execute(f"DESCRIBE {sql}", list(params)).fetchall()
    cols = [
        _neutralised(name) if str(typ) in _TEXT_TYPES else _ident(name)
        for name, typ, *_ in described
    ]
    return f"SELECT {', '.join(cols)} FROM ({sql}) AS export_rows"


def get_format(name: str) -> Format:
    """The export format called ``name`` (``csv`` or ``parquet``); ``InvalidRequest`` else."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidRequest(
            f"unknown export format {name!r}", detail=f"one of {', '.join(FORMATS)}"
        ) from None


def _select(
    kind: str,
    f: sync.Filters,
    offer_id: int | None = None,
    user: str | None = None,
    extra: Sequence[ExtraField] = (),
) -> tuple[str, list[Any]]:
    if kind == "offers":
        cond, params = sync.offer_where(f)
        order = "o.updated_at, o.id" if f.updated_since is not None else "o.id"
        cols = _OFFER_COLS + _extra_cols("o", of_level(extra, "offer"))
        return f"SELECT {cols} FROM offers o WHERE {cond} ORDER BY {order}", params
    if kind == "items":
        cond, params = sync.item_where(f)
        order = "o.updated_at, i.id" if f.updated_since is not None else "i.offer_id, i.position"
        cols = _ITEM_COLS + _extra_cols("i", of_level(extra, "item"))
        return (
            f"SELECT {cols} FROM offer_items i JOIN offers o ON o.id = i.offer_id"
            f" WHERE {cond} ORDER BY {order}",
            params,
        )
    if kind == "corrections":
        cond, params = sync.changed_after("created_at", "id", f.updated_since, f.after_id)
        where = [cond]
        if offer_id is not None:
            where.append("offer_id = ?")
            params.append(offer_id)
        if user:
            where.append("user_name = ?")
            params.append(user)
        return (
            f"SELECT {_CORRECTION_COLS} FROM corrections WHERE {' AND '.join(where)}"
            " ORDER BY created_at, id",
            params,
        )
    if kind in catalogue_export.KINDS:
        return catalogue_export.select(kind, f)
    raise InvalidRequest(f"unknown export {kind!r}", detail=f"one of {', '.join(KINDS)}")


def write(
    db: Database,
    kind: str,
    fmt: Format,
    path: Path,
    f: sync.Filters | None = None,
    *,
    offer_id: int | None = None,
    user: str | None = None,
    extra: Sequence[ExtraField] = (),
) -> int:
    """Write the selected ``kind`` rows to ``path`` with ``COPY … TO``; returns the row count.
    ``extra``: the configured extra fields (a column each for offers and items)."""
    sql, params = _select(kind, f or sync.Filters(), offer_id, user, extra)
    target = str(path).replace("'", "''")
    with db.lock:
        if fmt.name == "csv":
            sql = csv_safe_select(db, sql, params)
        row = db.con.execute(f"COPY ({sql}) TO '{target}' ({fmt.copy_options})", params).fetchone()
    return int(row[0]) if row else 0


def to_temp_file(
    db: Database,
    kind: str,
    fmt: Format,
    f: sync.Filters | None = None,
    *,
    offer_id: int | None = None,
    user: str | None = None,
    directory: Path | None = None,
    extra: Sequence[ExtraField] = (),
) -> Path:
    """Write the export to a new temporary file (the caller deletes it); removes it on error."""
    fd, name = tempfile.mkstemp(prefix=f"export-{kind}-", suffix=f".{fmt.name}", dir=directory)
    os.close(fd)
    path = Path(name)
    try:
        write(db, kind, fmt, path, f, offer_id=offer_id, user=user, extra=extra)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def filename(kind: str, fmt: Format, now: dt.datetime) -> str:
    """``offers-20260101T120000Z.csv``: what the download is called."""
    return f"{kind}-{now.strftime('%Y%m%dT%H%M%SZ')}.{fmt.name}"
