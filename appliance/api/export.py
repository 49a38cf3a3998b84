"""API routes: offers, items and corrections as CSV or Parquet downloads (scope ``export``).

Each file is written by DuckDB's ``COPY … TO`` into a temporary file, streamed back as an
attachment and deleted once sent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from litestar import get
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import File

from appliance.extract.fields import extra_fields
from appliance.store import export, sync
from appliance.store.db import Database, utcnow
from appliance.store.sync import naive_utc

_FORMAT = Parameter(query="format", default="csv", description="csv or parquet")


def send_export(state: State, kind: str, fmt_name: str, f: sync.Filters, **extra: Any) -> File:
    """The ``kind`` export of ``store.export`` as a file download (deleted once sent)."""
    db: Database = state.ctx.db
    fmt = export.get_format(fmt_name)
    tmp_dir = state.ctx.settings.paths.resolve(state.ctx.settings.paths.data_dir) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fields = extra_fields(state.ctx.settings)
    path = export.to_temp_file(db, kind, fmt, f, directory=tmp_dir, extra=fields, **extra)
    return File(
        path=path,
        filename=export.filename(kind, fmt, utcnow()),
        media_type=fmt.media_type,
        background=BackgroundTask(Path.unlink, path, missing_ok=True),
    )


@get("/api/v1/export/offers", sync_to_thread=True, opt={"scope": "export"})
def export_offers(
    state: State,
    fmt: str = _FORMAT,
    supplier: str | None = None,
    offer_state: str | None = Parameter(query="state", default=None),
    q: str | None = None,
    updated_since: dt.datetime | None = None,
) -> File:
    """All offers matching the filters of ``GET /api/v1/offers`` (supplier, state, ``q``,
    ``updated_since``) as one CSV or Parquet file, one row per offer, by id (oldest change
    first with ``updated_since``), a column ``extra_<name>`` per configured offer-level extra
    field. Timestamps are UTC."""
    f = sync.Filters(supplier=supplier, state=offer_state, q=q,
                     updated_since=naive_utc(updated_since))  # fmt: skip
    return send_export(state, "offers", fmt, f)


@get("/api/v1/export/items", sync_to_thread=True, opt={"scope": "export"})
def export_items(
    state: State,
    fmt: str = _FORMAT,
    supplier: str | None = None,
    offer_state: str | None = Parameter(query="state", default=None),
    q: str | None = None,
    updated_since: dt.datetime | None = None,
) -> File:
    """All items matching the filters of ``GET /api/v1/items`` (supplier, offer state, ``q``,
    ``updated_since``) as one CSV or Parquet file, one row per item with its offer's id, state,
    supplier and ``updated_at``; dimensions and weight in their own columns, a column
    ``extra_<name>`` per configured item-level extra field."""
    f = sync.Filters(supplier=supplier, state=offer_state, q=q,
                     updated_since=naive_utc(updated_since))  # fmt: skip
    return send_export(state, "items", fmt, f)


@get("/api/v1/export/corrections", sync_to_thread=True, opt={"scope": "export"})
def export_corrections(
    state: State,
    fmt: str = _FORMAT,
    offer_id: int | None = None,
    user: str | None = None,
    updated_since: dt.datetime | None = None,
) -> File:
    """The reviewers' corrections (filters of ``GET /api/v1/corrections``) as one CSV or
    Parquet file, oldest first; ``before``/``after`` are JSON text."""
    f = sync.Filters(updated_since=naive_utc(updated_since))
    return send_export(state, "corrections", fmt, f, offer_id=offer_id, user=user)


ROUTES: list[Any] = [export_offers, export_items, export_corrections]
