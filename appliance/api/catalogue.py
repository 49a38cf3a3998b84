"""API routes of the supplier catalogue: entries with history, comparison groups, change
events, a reviewer's split/merge/regroup, exchange rates, and the CSV/Parquet exports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post, put
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import File

from appliance.api.export import send_export
from appliance.api.review import reviewer
from appliance.catalogue.compare import SORT_KEYS
from appliance.catalogue.rates import check
from appliance.errors import InvalidRequest
from appliance.store import (
    catalogue_compare,
    catalogue_rates,
    catalogue_read,
    catalogue_review,
    sync,
)
from appliance.store.db import Database
from appliance.store.sync import naive_utc

READ = {"scope": "read"}
REVIEW = {"scope": "review"}


@dataclass
class MergeRequest:
    """Merge this entry into the entry ``into`` (same supplier)."""

    into: int


@dataclass
class GroupRequest:
    """Move the entry into product group ``group_id`` (null: a new group of its own)."""

    group_id: int | None = None


@dataclass
class RateIn:
    """1 unit of ``currency`` = ``rate`` units of the base currency, as of ``date``."""

    currency: str
    rate: float
    date: dt.date


@dataclass
class RatesRequest:
    rates: list[RateIn]


def _db(state: State) -> Database:
    db: Database = state.ctx.db
    return db


@get("/api/v1/catalogue", sync_to_thread=True, opt=READ)
def list_catalogue(
    state: State,
    supplier_id: int | None = None,
    q: str | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """Catalogue entries (one per product of a supplier) with their current terms (the latest
    valid observation). Filters: ``supplier_id``, ``q`` (name, SKU, brand). Incremental sync
    with ``updated_since`` (+ ``after_id``) as for ``GET /api/v1/offers``."""
    return catalogue_read.list_entries(
        _db(state), supplier_id=supplier_id, q=q, limit=limit, offset=offset,
        updated_since=naive_utc(updated_since), after_id=after_id,
    )  # fmt: skip


@get("/api/v1/catalogue/{entry_id:int}", sync_to_thread=True, opt=READ)
def get_catalogue_entry(state: State, entry_id: int) -> dict[str, Any]:
    """One entry: current terms, every observation (with its mail, offer and why it was
    matched), change events, the keys it is found by and its comparison group."""
    return catalogue_read.get_entry(_db(state), entry_id)


@post("/api/v1/catalogue/observations/{observation_id:int}/split", status_code=200,
      sync_to_thread=True, opt=REVIEW)  # fmt: skip
def split_observation(
    request: Request[Any, Any, Any], state: State, observation_id: int
) -> dict[str, Any]:
    """Split a wrong match: the observation's product (its key, with every observation of the
    entry under that key) becomes an entry of its own; later mails naming it land there."""
    return catalogue_review.split(_db(state), observation_id, user=reviewer(request))


@post("/api/v1/catalogue/{entry_id:int}/merge", status_code=200, sync_to_thread=True,
      opt=REVIEW)  # fmt: skip
def merge_entries(
    request: Request[Any, Any, Any], state: State, entry_id: int, data: MergeRequest
) -> dict[str, Any]:
    """Merge this entry into ``into`` (one product named two ways); later mails follow."""
    return catalogue_review.merge(_db(state), entry_id, data.into, user=reviewer(request))


@post("/api/v1/catalogue/{entry_id:int}/group", status_code=200, sync_to_thread=True,
      opt=REVIEW)  # fmt: skip
def regroup_entry(
    request: Request[Any, Any, Any], state: State, entry_id: int, data: GroupRequest
) -> dict[str, Any]:
    """A buyer's grouping for the comparison: the entry joins ``group_id`` (null: its own new
    group) and automatic grouping leaves it there."""
    return catalogue_review.regroup(_db(state), entry_id, data.group_id, user=reviewer(request))


@get("/api/v1/products", sync_to_thread=True, opt=READ)
def list_products(
    state: State,
    q: str | None = None,
    min_suppliers: int = Parameter(default=1, ge=1),
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """Product groups across suppliers with their supplier and entry counts
    (``min_suppliers=2``: products offered by several); sync with ``updated_since``."""
    return catalogue_compare.list_groups(
        _db(state), q=q, min_suppliers=min_suppliers, limit=limit, offset=offset,
        updated_since=naive_utc(updated_since), after_id=after_id,
    )  # fmt: skip


@get("/api/v1/products/{group_id:int}/compare", sync_to_thread=True, opt=READ)
def compare_product(
    state: State, group_id: int, sort: str = "price", desc: bool = False
) -> dict[str, Any]:
    """Every supplier's current terms for the group, the price normalised to one unit and the
    base currency (``catalogue.base_currency``) with the rate and its date; a row that cannot
    be converted says why in ``notes``. ``sort``: price, supplier, lead_time, moq,
    valid_until, observed."""
    if sort not in SORT_KEYS:
        raise InvalidRequest(f"unknown sort {sort!r}", detail=f"one of {', '.join(SORT_KEYS)}")
    base = state.ctx.settings.catalogue.base_currency
    return catalogue_compare.compare_group(_db(state), group_id, base, sort, desc)


@get("/api/v1/changes", sync_to_thread=True, opt=READ)
def list_changes(
    state: State,
    since: dt.datetime | None = None,
    supplier_id: int | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """Catalogue change events (price, MOQ, lead time, currency), newest first; ``since``:
    those at or after a time; ``updated_since`` (+ ``after_id``): sync, oldest first."""
    return catalogue_read.list_changes(
        _db(state), since=naive_utc(since), supplier_id=supplier_id, limit=limit,
        offset=offset, updated_since=naive_utc(updated_since), after_id=after_id,
    )  # fmt: skip


def _rates(state: State) -> dict[str, Any]:
    base = state.ctx.settings.catalogue.base_currency
    rates = catalogue_rates.get_rates(_db(state), base)
    return {"base_currency": base.upper(),
            "rates": [{"currency": r.currency, "rate": r.rate, "date": r.as_of.isoformat(),
                       "source": r.source} for r in rates.values()]}  # fmt: skip


@get("/api/v1/catalogue/rates", sync_to_thread=True, opt=READ)
def get_rates(state: State) -> dict[str, Any]:
    """The exchange rates into the base currency, each with its date and source."""
    return _rates(state)


@put("/api/v1/catalogue/rates", status_code=200, sync_to_thread=True, opt={"scope": "admin"})
def put_rates(request: Request[Any, Any, Any], state: State, data: RatesRequest) -> dict[str, Any]:
    """Set exchange rates (replacing those of the same currencies): ``{"rates": [{"currency":
    "RUB", "rate": 0.0105, "date": "2026-11-01"}]}``, 1 unit = ``rate`` base units."""
    try:
        rates = [check(r.currency, r.rate, r.date, f"api {reviewer(request)}") for r in data.rates]
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    catalogue_rates.set_rates(_db(state), rates, state.ctx.settings.catalogue.base_currency)
    return _rates(state)


_FORMAT = Parameter(query="format", default="csv", description="csv or parquet")


@get("/api/v1/export/catalogue", sync_to_thread=True, opt={"scope": "export"})
def export_catalogue(
    state: State, fmt: str = _FORMAT, updated_since: dt.datetime | None = None
) -> File:
    """The catalogue (one row per entry with its current terms and group) as CSV or Parquet."""
    return send_export(
        state, "catalogue", fmt, sync.Filters(updated_since=naive_utc(updated_since))
    )


@get("/api/v1/export/catalogue-history", sync_to_thread=True, opt={"scope": "export"})
def export_history(
    state: State, fmt: str = _FORMAT, updated_since: dt.datetime | None = None
) -> File:
    """Every observation (replaced ones too, ``is_current`` false) as CSV or Parquet."""
    f = sync.Filters(updated_since=naive_utc(updated_since))
    return send_export(state, "catalogue-history", fmt, f)


ROUTES: list[Any] = [
    list_catalogue, get_catalogue_entry, split_observation, merge_entries, regroup_entry,
    list_products, compare_product, list_changes, get_rates, put_rates, export_catalogue,
    export_history,
]  # fmt: skip
