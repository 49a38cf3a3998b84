"""Filters shared by the lists and the exports, and the incremental-sync contract.

Incremental sync (``updated_since``): a list given ``updated_since`` returns only the rows
changed after it, oldest change first, ordered by ``(updated_at, id)`` so that the order is
total. Every page carries ``next_updated_since`` and ``next_after_id`` (the ``updated_at`` and
id of the last row of that order on the page). A client keeps both and asks again with
``updated_since=<next_updated_since>&after_id=<next_after_id>`` until a page comes back empty:
rows changed meanwhile come back again later (at least once, never skipped), new rows come at
the end. Paging with a fixed ``updated_since`` and a growing ``offset`` also sees every row
once as long as rows are only added meanwhile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from appliance.errors import InvalidRequest
from appliance.store.db import iso_utc
from appliance.store.offers import OFFER_STATES


def naive_utc(d: dt.datetime | None) -> dt.datetime | None:
    """A datetime from a request as stored: naive UTC (a naive one is taken as UTC already)."""
    return d.astimezone(dt.UTC).replace(tzinfo=None) if d and d.tzinfo else d


def like(text: str) -> str:
    """``%text%`` for ``ILIKE … ESCAPE '\\'`` with the wildcards of ``text`` taken literally."""
    esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


@dataclass(frozen=True)
class Filters:
    """What a list or an export selects; every field is optional."""

    supplier: str | None = None  # part of the supplier's name or e-mail address
    state: str | None = None  # offer state
    q: str | None = None  # free text: supplier, subject, product name / SKU / brand
    updated_since: dt.datetime | None = None  # naive UTC
    after_id: int | None = None  # with updated_since: the last row already seen at that time
    reviewed: bool | None = None  # offers approved (or not) by a person
    since: dt.datetime | None = None  # created at or after (naive UTC)
    until: dt.datetime | None = None  # created before (naive UTC)

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in OFFER_STATES:
            raise InvalidRequest(
                f"unknown offer state {self.state!r}", detail=f"one of {', '.join(OFFER_STATES)}"
            )
        if self.after_id is not None and self.updated_since is None:
            raise InvalidRequest("after_id needs updated_since")


def changed_after(
    ts_col: str, id_col: str, since: dt.datetime | None, after_id: int | None
) -> tuple[str, list[Any]]:
    """The condition "changed after ``since`` (and after ``after_id`` at that very time)"."""
    if since is None:
        return "TRUE", []
    if after_id is None:
        return f"{ts_col} > ?", [since]
    return f"({ts_col} > ? OR ({ts_col} = ? AND {id_col} > ?))", [since, since, after_id]


def _any_like(cols: list[str]) -> str:
    """``(a ILIKE ? ESCAPE '\\' OR b ILIKE ? …)``: one parameter per column."""
    return "(" + " OR ".join(f"{c} ILIKE ? ESCAPE '\\'" for c in cols) + ")"


def offer_where(f: Filters, o: str = "o") -> tuple[str, list[Any]]:
    """SQL condition and parameters over ``offers`` (aliased ``o``)."""
    where: list[str] = []
    params: list[Any] = []
    if f.supplier:
        where.append(_any_like([f"{o}.supplier_email", f"{o}.supplier_name"]))
        params += [like(f.supplier)] * 2
    if f.state:
        where.append(f"{o}.state = ?")
        params.append(f.state)
    if f.q:
        item_match = _any_like(["qi.product_name", "qi.sku", "qi.brand"])
        own = _any_like([f"{o}.supplier_name", f"{o}.supplier_email", f"{o}.subject"])
        where.append(
            f"({own} OR EXISTS (SELECT 1 FROM offer_items qi WHERE qi.offer_id = {o}.id"
            f" AND {item_match}))"
        )
        params += [like(f.q)] * 6
    if f.reviewed is not None:
        where.append(f"{o}.reviewed_by IS {'NOT ' if f.reviewed else ''}NULL")
    if f.since:
        where.append(f"{o}.created_at >= ?")
        params.append(f.since)
    if f.until:
        where.append(f"{o}.created_at < ?")
        params.append(f.until)
    cond, p = changed_after(f"{o}.updated_at", f"{o}.id", f.updated_since, f.after_id)
    where.append(cond)
    params += p
    return " AND ".join(where), params


def item_where(f: Filters, i: str = "i", o: str = "o") -> tuple[str, list[Any]]:
    """SQL condition over ``offer_items i JOIN offers o``: ``q`` searches the item's product
    name, SKU and brand; ``updated_since`` is the offer's (every item write bumps it)."""
    outer = Filters(
        supplier=f.supplier, state=f.state, reviewed=f.reviewed, since=f.since, until=f.until
    )
    cond, params = offer_where(outer, o)
    where = [cond]
    if f.q:
        where.append(_any_like([f"{i}.product_name", f"{i}.sku", f"{i}.brand"]))
        params += [like(f.q)] * 3
    c, p = changed_after(f"{o}.updated_at", f"{i}.id", f.updated_since, f.after_id)
    where.append(c)
    return " AND ".join(where), [*params, *p]


def order_by(f: Filters, ts_col: str, id_col: str) -> str:
    """Oldest change first when syncing (``updated_since``), else newest first."""
    if f.updated_since is not None:
        return f"{ts_col}, {id_col}"
    return f"{id_col} DESC"


def page(
    items: list[dict[str, Any]],
    keys: list[tuple[dt.datetime, int]],
    *,
    total: int,
    limit: int,
    offset: int,
    f: Filters,
) -> dict[str, Any]:
    """The paging envelope of the lists: items, total, limit, offset and the sync cursor
    (``next_updated_since``, ``next_after_id``: the greatest ``(updated_at, id)`` returned,
    or the request's own cursor when the page is empty)."""
    if keys:
        ts, last = max(keys)
        cursor: dict[str, Any] = {"next_updated_since": iso_utc(ts), "next_after_id": last}
    else:
        cursor = {"next_updated_since": iso_utc(f.updated_since), "next_after_id": f.after_id}
    return {"items": items, "total": total, "limit": limit, "offset": offset, **cursor}
