"""Dashboard pages of the supplier catalogue: the catalogue (all or one supplier's), a product
page with its price-history chart, the comparison of a product group, what changed this week.

The pages only read; split, merge and regroup go from ``static/catalogue.js`` to the REST API
with the session's CSRF token (``api/catalogue.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import Template

from appliance.catalogue.compare import SORT_KEYS
from appliance.store import catalogue_compare, catalogue_read
from appliance.store.db import Database, utcnow
from appliance.web.chart import HEIGHT, WIDTH, price_chart
from appliance.web.routes import PAGE_SIZE, READ, _page, _pages

_PAGE: dict[str, Any] = {"opt": READ, "sync_to_thread": True, "include_in_schema": False}


def _db(state: State) -> Database:
    db: Database = state.ctx.db
    return db


@get("/catalogue", **_PAGE)
def catalogue_page(
    request: Request[Any, Any, Any],
    state: State,
    supplier_id: int | None = None,
    q: str | None = None,
    offset: int = Parameter(default=0, ge=0),
) -> Template:
    """The catalogue: every product of one supplier (``supplier_id``) or of all, with its
    current terms; search by name, SKU or brand."""
    q = (q or "").strip() or None
    page = catalogue_read.list_entries(
        _db(state), supplier_id=supplier_id, q=q, limit=PAGE_SIZE, offset=offset
    )
    supplier = None
    if supplier_id is not None:
        supplier = _db(state).scalar("SELECT name FROM suppliers WHERE id = ?", [supplier_id])
    return _page(
        request, "catalogue.html", "catalogue", entries=page["items"], q=q or "",
        supplier_id=supplier_id, supplier=supplier,
        pg=_pages(page["total"], PAGE_SIZE, offset, {"q": q, "supplier_id": supplier_id}),
    )  # fmt: skip


@get("/catalogue/{entry_id:int}", **_PAGE)
def entry_page(request: Request[Any, Any, Any], state: State, entry_id: int) -> Template:
    """One product of one supplier: current terms, the price-history chart, every observation
    with the reason it was matched (and Split), merge with another entry, its group."""
    db = _db(state)
    e = catalogue_read.get_entry(db, entry_id)
    others = catalogue_read.list_entries(db, supplier_id=e["supplier_id"], limit=500)["items"]
    groups = catalogue_compare.list_groups(db, q=None, limit=500)["items"]
    return _page(
        request, "entry.html", "catalogue", e=e, chart=price_chart(e["history"]),
        width=WIDTH, height=HEIGHT, others=[o for o in others if o["id"] != entry_id],
        groups=[g for g in groups if g["id"] != e["group_id"]],
    )  # fmt: skip


@get("/products", **_PAGE)
def products_page(
    request: Request[Any, Any, Any],
    state: State,
    q: str | None = None,
    all_groups: bool = Parameter(query="all", default=False),
    offset: int = Parameter(default=0, ge=0),
) -> Template:
    """Product groups across suppliers (by default those offered by two or more)."""
    q = (q or "").strip() or None
    page = catalogue_compare.list_groups(
        _db(state), q=q, min_suppliers=1 if all_groups else 2, limit=PAGE_SIZE, offset=offset
    )
    return _page(
        request, "products.html", "products", groups=page["items"], q=q or "",
        all=all_groups,
        pg=_pages(page["total"], PAGE_SIZE, offset, {"q": q, "all": all_groups or None}),
    )  # fmt: skip


@get("/products/{group_id:int}", **_PAGE)
def compare_page(
    request: Request[Any, Any, Any],
    state: State,
    group_id: int,
    sort: str = "price",
    desc: bool = False,
) -> Template:
    """Every supplier's current terms for one product group, side by side, the price
    normalised to one unit and one currency; columns sort by their header links."""
    sort = sort if sort in SORT_KEYS else "price"
    base = state.ctx.settings.catalogue.base_currency
    data = catalogue_compare.compare_group(_db(state), group_id, base, sort, desc)
    return _page(request, "compare.html", "products", c=data, sort=sort, desc=desc)


@get("/changes", **_PAGE)
def changes_page(
    request: Request[Any, Any, Any],
    state: State,
    days: int = Parameter(default=7, ge=1, le=366),
    offset: int = Parameter(default=0, ge=0),
) -> Template:
    """What changed in the catalogue in the last ``days`` (default: this week)."""
    since = utcnow() - dt.timedelta(days=days)
    page = catalogue_read.list_changes(_db(state), since=since, limit=PAGE_SIZE, offset=offset)
    return _page(
        request, "changes.html", "changes", changes=page["items"], days=days,
        pg=_pages(page["total"], PAGE_SIZE, offset, {"days": days}),
    )  # fmt: skip


ROUTES: list[Any] = [catalogue_page, entry_page, products_page, compare_page, changes_page]
