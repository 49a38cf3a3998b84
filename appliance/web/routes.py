"""Dashboard pages: server-rendered Jinja templates plus ``/static`` (our CSS and JS only).

Every handler declares its access in ``opt`` (the auth middleware enforces it); the pages only
read. Changes (corrections, approval, rejection, retries) go from ``static/app.js`` to the REST
API with the session's CSRF token, so their logic lives in one place (``store.corrections``).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import File, Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from appliance import adapters
from appliance.extract.contract import LENGTH_UNITS
from appliance.extract.contract import WEIGHT_UNITS as WEIGHT_UNIT_NAMES
from appliance.extract.fields import (
    ITEM_SCALARS,
    NUMERIC_ITEM_FIELDS,
    ExtraField,
    extra_fields,
    extra_keys,
    get_value,
)
from appliance.store import corrections, outbox, overview, queries, suppliers
from appliance.store.corrections import ITEM_FIELDS
from appliance.store.db import Database
from appliance.store.offers import OFFER_SCALARS, OFFER_STATES
from appliance.store.repo import MAIL_STATES
from appliance.web.mailview import email_views, field_path, thread_views

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
PAGE_SIZE = 50
READ = {"scope": "read"}

# Item fields as the edit form shows them (from the contract, ``extract.fields``): scalars, then
# dimensions and weight by part; then the configured extra fields.
NUMERIC_FIELDS = NUMERIC_ITEM_FIELDS
FORM_ITEM_FIELDS = ITEM_SCALARS
DIMENSION_PARTS = ("length", "width", "height", "unit")
WEIGHT_PARTS = ("value", "unit")
DIM_UNITS = LENGTH_UNITS
WEIGHT_UNITS = WEIGHT_UNIT_NAMES


def _age(seconds: float | None) -> str:
    """A duration for people: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "–"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _since(iso: str | None) -> str:
    """Age of an ISO UTC timestamp (``…Z``) relative to now."""
    if not iso:
        return "–"
    then = dt.datetime.fromisoformat(iso.rstrip("Z"))
    return _age((dt.datetime.now(dt.UTC).replace(tzinfo=None) - then).total_seconds())


def _when(iso: str | None) -> str:
    """``2026-11-24 03:52`` (UTC) from an ISO timestamp."""
    return iso.replace("T", " ")[:16] if iso else "–"


def _value(v: Any) -> str:
    """A field value as text: dimensions ``40 × 30 × 20 cm``, weight ``1.5 kg``, null ``–``."""
    if v is None or v == "":
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict):
        if "length" in v:
            dims = " × ".join("?" if v.get(k) is None else str(v[k]) for k in DIMENSION_PARTS[:3])
            return f"{dims} {v.get('unit') or ''}".strip()
        if "value" in v:
            return f"{v.get('value')} {v.get('unit') or ''}".strip()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(age=_age, since=_since, when=_when, value=_value)
    env.globals.update(states=OFFER_STATES, mail_states=MAIL_STATES)
    return env


TEMPLATE_CONFIG: TemplateConfig[JinjaTemplateEngine] = TemplateConfig(
    instance=JinjaTemplateEngine.from_environment(_environment())
)
"""The app's template engine (``create_app`` passes it to Litestar); ``login.html`` of the
auth routes is rendered by it too."""

STATIC_ROUTER = create_static_files_router(
    path="/static", directories=[STATIC_DIR], opt={"public": True}, include_in_schema=False
)


def _db(state: State) -> Database:
    db: Database = state.ctx.db
    return db


def _user(request: Request[Any, Any, Any]) -> Any:
    """The authenticated principal (``appliance.auth.Principal``) or None (no auth installed)."""
    return request.scope.get("user")


def _page(request: Request[Any, Any, Any], name: str, nav: str, **context: Any) -> Template:
    user = _user(request)
    scopes: frozenset[str] = getattr(user, "scopes", None) or frozenset()
    return Template(
        template_name=name,
        context={
            "user": user,
            "csrf_token": getattr(user, "csrf_token", None) or "",
            "can_review": "review" in scopes,
            "can_operate": bool({"operate", "admin"} & set(scopes)),
            "nav": nav,
            **context,
        },
    )


def _pages(total: int, limit: int, offset: int, base: dict[str, Any]) -> dict[str, Any]:
    """Paging links for a list page (query strings keep the filters)."""
    keep = {k: v for k, v in base.items() if v not in (None, "")}

    def url(off: int) -> str:
        return "?" + urlencode({**keep, "offset": off}) if off else "?" + urlencode(keep)

    return {
        "total": total,
        "page": offset // limit + 1,
        "pages": max(1, math.ceil(total / limit)),
        "prev": url(max(0, offset - limit)) if offset > 0 else None,
        "next": url(offset + limit) if offset + limit < total else None,
    }


@get("/favicon.ico", opt={"public": True}, sync_to_thread=False, include_in_schema=False)
def favicon() -> File:
    """The icon browsers ask for by themselves (pages name ``/static/favicon.svg``)."""
    return File(
        STATIC_DIR / "favicon.svg", media_type="image/svg+xml", content_disposition_type="inline"
    )


@get("/", opt=READ, sync_to_thread=False, include_in_schema=False)
def overview_page(request: Request[Any, Any, Any], state: State) -> Template:
    """Overview: mails and offers by state today and this week, the review queue, waiting
    clarifications, failed mails, throughput per hour, the model and the active adapter."""
    ctx = state.ctx
    data = overview.overview(_db(state))
    peak = max(
        [1, *(h["mails"] for h in data["throughput"]), *(h["offers"] for h in data["throughput"])]
    )
    return _page(
        request, "overview.html", "overview", o=data, peak=peak, model=ctx.settings.llm.model,
        adapter=adapters.active_adapter(ctx.settings, ctx.redis),
    )  # fmt: skip


@get("/offers", opt=READ, sync_to_thread=False, include_in_schema=False)
def offers_page(
    request: Request[Any, Any, Any],
    state: State,
    q: str | None = None,
    offer_state: str | None = Parameter(query="state", default=None),
    supplier: str | None = None,
    offset: int = Parameter(default=0, ge=0),
) -> Template:
    """Offers, newest first: search (supplier, product, subject), filters, paging."""
    db = _db(state)
    q, supplier = (q or "").strip() or None, (supplier or "").strip() or None
    offer_state = offer_state if offer_state in OFFER_STATES else None
    page = queries.list_offers(
        db, q=q, state=offer_state, supplier=supplier, limit=PAGE_SIZE, offset=offset
    )
    subj = overview.subjects(db, [o["id"] for o in page["items"]])
    return _page(
        request, "offers.html", "offers", offers=page["items"], subjects=subj,
        q=q or "", state=offer_state or "", supplier=supplier or "",
        pg=_pages(page["total"], PAGE_SIZE, offset,
                      {"q": q, "state": offer_state, "supplier": supplier}),
    )  # fmt: skip


def _field_rows(offer: dict[str, Any], extra: list[ExtraField] | None = None) -> dict[str, Any]:
    """Per item and per offer-level field: label, current value, its provenance entry (with
    key ``p<index>`` linking it to its marks) and the values it replaced. The configured extra
    fields (``extra``) follow the contract's, with any other extra value the record holds."""
    prov = offer.get("provenance") or []
    current: dict[str, tuple[str, dict[str, Any]]] = {}
    replaced: dict[str, list[dict[str, Any]]] = {}
    for k, p in enumerate(prov):
        path = field_path(p)
        if p.get("current"):
            current[path] = (f"p{k}", p)
        else:
            replaced.setdefault(path, []).append(p)

    labels = _labels(extra or [])

    def row(path: str, name: str, value: Any) -> dict[str, Any]:
        key, p = current.get(path, ("", {}))
        return {"path": path, "field": name, "value": value, "key": key, "prov": p,
                "replaced": replaced.get(path, []), "label": labels.get(name, name)}  # fmt: skip

    def keys(record: dict[str, Any], level: str) -> list[str]:
        mine = [f.key for f in extra or [] if f.level == level]
        return [*mine, *(k for k in extra_keys(record) if k not in mine)]

    items = [
        [row(f"items[{i}].{f}", f, get_value(item, f)) for f in (*ITEM_FIELDS, *keys(item, "item"))]
        for i, item in enumerate(offer.get("items") or [])
    ]
    head = [row(f, f, get_value(offer, f)) for f in (*OFFER_SCALARS, *keys(offer, "offer"))]
    return {"items": items, "offer": head}


def _labels(extra: list[ExtraField]) -> dict[str, str]:
    """Field key → the label the page shows: the contract's field names as they read, the
    extra fields' configured labels."""
    out = {f: f.replace("_", " ") for f in (*ITEM_FIELDS, *OFFER_SCALARS)}
    out.update((f.key, f.label()) for f in extra)
    return out


def _history(offer: dict[str, Any], corr: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Transitions, our e-mails and reviewers' corrections in time order."""
    rows: list[dict[str, Any]] = []
    for h in offer.get("history") or []:
        what = f"{h.get('from_state') or '–'} → {h['to_state']}"
        rows.append({"at": h.get("at"), "kind": "state", "what": what, "who": h.get("actor"),
                     "why": h.get("reason"), "mail_id": h.get("mail_id")})  # fmt: skip
    for e in offer.get("emails") or []:
        what = f"{e['kind']} e-mail (round {e.get('round') or 0}) to {e.get('to_addr') or '–'}"
        rows.append({"at": e.get("created_at"), "kind": "e-mail", "what": what,
                     "who": e.get("state"), "why": e.get("reason") or e.get("error"),
                     "mail_id": None})  # fmt: skip
    for c in corr:
        where = f"item {c['item_position'] + 1} " if c.get("item_position") is not None else ""
        if c["action"] == "set":
            what = f"{where}{c['field']}: {_value(c['before'])} → {_value(c['after'])}"
        else:
            what = f"{c['action'].replace('_', ' ')} {where}".strip()
        rows.append({"at": c.get("created_at"), "kind": "correction", "what": what,
                     "who": f"user:{c['user']}", "why": c.get("comment"),
                     "mail_id": c.get("mail_id")})  # fmt: skip
    return sorted(rows, key=lambda r: r["at"] or "")


@get("/offers/{offer_id:int}", opt=READ, sync_to_thread=False, include_in_schema=False)
def offer_page(request: Request[Any, Any, Any], state: State, offer_id: int) -> Template:
    """One offer: its mails (sanitized HTML in a sandboxed frame, text with the evidence
    marked), the extracted fields with source and confidence, the edit form and the history."""
    ctx = state.ctx
    db = _db(state)
    offer = queries.get_offer(db, offer_id)
    corr = corrections.list_corrections(db, offer_id=offer_id, limit=500)["items"]
    extra = extra_fields(ctx.settings)

    def of_kind(*kinds: str) -> list[str]:
        return [f.key for f in extra if f.kind in kinds]

    return _page(
        request, "offer.html", "offers", offer=offer, rows=_field_rows(offer, extra),
        mails=thread_views(db, ctx.settings, offer), emails=email_views(db, offer),
        history=_history(offer, corr), next_id=overview.next_in_queue(db, offer_id),
        form_fields=[*FORM_ITEM_FIELDS, *(f.key for f in extra if f.level == "item")],
        numeric=[*NUMERIC_FIELDS, *of_kind("number", "integer")],
        dates=["valid_until", *of_kind("date")], booleans=of_kind("boolean"),
        labels=_labels(extra), dim_units=DIM_UNITS, weight_units=WEIGHT_UNITS,
        editable=offer["state"] != "closed", min_conf=ctx.settings.review.min_confidence,
    )  # fmt: skip


@get("/review", opt=READ, sync_to_thread=False, include_in_schema=False)
def review_page(
    request: Request[Any, Any, Any], state: State, offset: int = Parameter(default=0, ge=0)
) -> Template:
    """The review queue: offers in needs_review, waiting longest first, with their reasons."""
    page = overview.review_queue(_db(state), limit=PAGE_SIZE, offset=offset)
    return _page(
        request, "review.html", "review", queue=page["items"],
        pg=_pages(page["total"], PAGE_SIZE, offset, {}),
    )  # fmt: skip


@get("/review/next", opt=READ, sync_to_thread=False, include_in_schema=False)
def review_next(state: State, after: int | None = None) -> Redirect:
    """Open the next offer of the review queue after ``after`` (the queue when it is empty)."""
    nxt = overview.next_in_queue(_db(state), after)
    return Redirect(f"/offers/{nxt}" if nxt is not None else "/review", status_code=303)


@get("/suppliers", opt=READ, sync_to_thread=False, include_in_schema=False)
def suppliers_page(
    request: Request[Any, Any, Any], state: State, offset: int = Parameter(default=0, ge=0)
) -> Template:
    """The supplier registry: configured suppliers first, then senders seen so far."""
    page = suppliers.list_suppliers(_db(state), limit=PAGE_SIZE, offset=offset)
    return _page(
        request, "suppliers.html", "suppliers", suppliers=page["items"],
        pg=_pages(page["total"], PAGE_SIZE, offset, {}),
    )  # fmt: skip


@get("/suppliers/{supplier_id:int}", opt=READ, sync_to_thread=False, include_in_schema=False)
def supplier_page(request: Request[Any, Any, Any], state: State, supplier_id: int) -> Template:
    """One supplier: addresses, policy, offers by state and its offers."""
    db = _db(state)
    s = suppliers.get_supplier(db, supplier_id)
    subj = overview.subjects(db, [o["id"] for o in s.get("offers") or []])
    return _page(request, "supplier.html", "suppliers", s=s, subjects=subj)


@get("/mails", opt=READ, sync_to_thread=False, include_in_schema=False)
def mails_page(
    request: Request[Any, Any, Any],
    state: State,
    mail_state: str | None = Parameter(query="state", default=None),
    offset: int = Parameter(default=0, ge=0),
) -> Template:
    """Mails, newest first, by state (``?state=failed``: the failed ones, with Retry)."""
    mail_state = mail_state if mail_state in MAIL_STATES else None
    page = queries.list_mails(_db(state), state=mail_state, limit=PAGE_SIZE, offset=offset)
    return _page(
        request, "mails.html", "mails", mails=page["items"], state=mail_state or "",
        pg=_pages(page["total"], PAGE_SIZE, offset, {"state": mail_state}),
    )  # fmt: skip


@get("/outbox", opt=READ, sync_to_thread=False, include_in_schema=False)
def outbox_page(
    request: Request[Any, Any, Any],
    state: State,
    offset: int = Parameter(default=0, ge=0),
) -> Template:
    """Our automatic e-mails, newest first (suppressed ones with their reason)."""
    page = outbox.list_outbox(_db(state), limit=PAGE_SIZE, offset=offset)
    return _page(
        request, "outbox.html", "outbox", emails=page["items"],
        pg=_pages(page["total"], PAGE_SIZE, offset, {}),
    )  # fmt: skip


@get("/adapters", opt=READ, sync_to_thread=False, include_in_schema=False)
def adapters_page(request: Request[Any, Any, Any], state: State) -> Template:
    """The model, the active LoRA adapter, every adapter's evaluation scores, the history."""
    s = state.ctx.settings
    registry = adapters.read_registry(s)
    return _page(
        request, "adapters.html", "adapters", model=s.llm.model,
        active=adapters.active_adapter(s, state.ctx.redis), adapters=adapters.list_adapters(s),
        base_scores=adapters.base_scores(s), history=list(reversed(registry.get("history", []))),
    )  # fmt: skip


ROUTES: list[Any] = [
    STATIC_ROUTER,
    favicon,
    overview_page,
    offers_page,
    offer_page,
    review_page,
    review_next,
    suppliers_page,
    supplier_page,
    mails_page,
    outbox_page,
    adapters_page,
]
