"""API routes of the review: corrections, approval, rejection, the corrections log and the item
list for integrations (incremental sync: see ``appliance.store.sync``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import Parameter

from appliance.errors import ApplianceError
from appliance.extract.fields import extra_fields
from appliance.store import corrections, queries, sync
from appliance.store.db import Database
from appliance.store.sync import naive_utc
from appliance.workflow import catalogue


@dataclass
class CorrectionRequest:
    """A reviewer's corrections of one offer; positions are those before the request."""

    # Offer-level values: valid_until (ISO date), incoterms, payment_terms; a configured extra
    # field as "extra.<name>" (or an "extra" object of name → value; null clears it).
    fields: dict[str, Any] | None = None
    # Item position ("0", "1" …) → the item's values to change (contract field names, extra
    # fields as for ``fields``).
    items: dict[str, dict[str, Any]] | None = None
    # New items (product_name required), appended.
    add_items: list[dict[str, Any]] | None = None
    # Positions of items to remove.
    remove_items: list[int] | None = None
    comment: str | None = None


@dataclass
class ApproveRequest:
    comment: str | None = None


@dataclass
class RejectRequest:
    reason: str


def _db(state: State) -> Database:
    db: Database = state.ctx.db
    return db


def reviewer(request: Request[Any, Any, Any]) -> str:
    """The name of who makes the request (``appliance.auth.Principal.name``, set by the auth
    middleware; for a bearer token, the token's name)."""
    name = getattr(request.scope.get("user"), "name", None)
    if not name:
        raise ApplianceError("no authenticated user on the request: is the auth middleware on?")
    return str(name)


@post(
    "/api/v1/offers/{offer_id:int}/corrections",
    status_code=200,
    sync_to_thread=False,
    opt={"scope": "review"},
)
def correct_offer(
    request: Request[Any, Any, Any], state: State, offer_id: int, data: CorrectionRequest
) -> dict[str, Any]:
    """Correct an offer's values: ``fields`` (offer-level), ``items`` (position → values),
    ``add_items``, ``remove_items``, ``comment``. Values are validated and normalised by the
    extraction contract (400 names the first bad field; 409 for a closed offer); the replaced
    values stay in the provenance history. Returns the offer detail, with ``applied``: the
    corrections recorded (empty when nothing changed)."""
    ctx = state.ctx
    rows = corrections.correct(
        ctx.db, offer_id, user=reviewer(request), fields=data.fields,
        items=data.items, add_items=data.add_items, remove_items=data.remove_items,
        comment=data.comment, dialogue=ctx.settings.dialogue, extra=extra_fields(ctx.settings),
        on_change=lambda con, oid, now: catalogue.corrected(con, ctx.settings, oid, now),
    )  # fmt: skip
    return {**queries.get_offer(ctx.db, offer_id), "applied": rows}


@post(
    "/api/v1/offers/{offer_id:int}/approve",
    status_code=200,
    sync_to_thread=False,
    opt={"scope": "review"},
)
def approve_offer(
    request: Request[Any, Any, Any], state: State, offer_id: int, data: ApproveRequest | None = None
) -> dict[str, Any]:
    """Approve an offer: it becomes ``complete`` with ``reviewed_by``/``reviewed_at`` (from
    extracted, incomplete, awaiting_supplier, needs_review, or complete again after
    corrections; 409 otherwise). Returns the offer detail."""
    db = _db(state)
    corrections.approve(
        db, offer_id, user=reviewer(request), comment=data.comment if data else None
    )
    return queries.get_offer(db, offer_id)


@post(
    "/api/v1/offers/{offer_id:int}/reject",
    status_code=200,
    sync_to_thread=False,
    opt={"scope": "review"},
)
def reject_offer(
    request: Request[Any, Any, Any], state: State, offer_id: int, data: RejectRequest
) -> dict[str, Any]:
    """Reject an offer with a ``reason``: it is closed (no more questions, reminders or merged
    replies; 409 when already closed). Returns the offer detail."""
    db = _db(state)
    corrections.reject(db, offer_id, user=reviewer(request), reason=data.reason)
    return queries.get_offer(db, offer_id)


@get("/api/v1/corrections", sync_to_thread=False, opt={"scope": "read"})
def list_corrections(
    state: State,
    offer_id: int | None = None,
    user: str | None = None,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
) -> dict[str, Any]:
    """Reviewers' corrections (set, add_item, remove_item, approve, reject) with before/after,
    who, why, when and the mail the value came from; newest first.

    Incremental sync: with ``updated_since`` (ISO 8601; UTC when no offset is given) only
    corrections recorded after it, oldest first, ordered by (created_at, id). Every page
    carries ``next_updated_since`` and ``next_after_id``; ask again with
    ``updated_since=<next_updated_since>&after_id=<next_after_id>`` until a page is empty.
    Paging with a fixed ``updated_since`` and ``offset`` works too."""
    return corrections.list_corrections(
        _db(state), offer_id=offer_id, user=user, updated_since=naive_utc(updated_since),
        after_id=after_id, limit=limit, offset=offset,
    )  # fmt: skip


@get("/api/v1/items", sync_to_thread=False, opt={"scope": "read"})
def list_items(
    state: State,
    supplier: str | None = None,
    offer_state: str | None = Parameter(query="state", default=None),
    q: str | None = None,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
) -> dict[str, Any]:
    """Items across offers, each with its id, position, offer id, offer state, supplier and the
    offer's ``updated_at``; newest offer first. Filters: supplier (name or e-mail), state (of
    the offer), ``q`` (product name, SKU or brand).

    Incremental sync: with ``updated_since`` (ISO 8601; UTC when no offset is given) only items
    of offers changed after it (any change of an item changes its offer's ``updated_at``),
    ordered by (updated_at, item id). Every page carries ``next_updated_since`` and
    ``next_after_id`` (an item id); ask again with
    ``updated_since=<next_updated_since>&after_id=<next_after_id>`` until a page is empty: the
    items of an offer changed meanwhile come again, none is skipped."""
    f = sync.Filters(
        supplier=supplier, state=offer_state, q=q, updated_since=naive_utc(updated_since),
        after_id=after_id,
    )  # fmt: skip
    return queries.list_items(_db(state), f, limit=limit, offset=offset)


ROUTES: list[Any] = [correct_offer, approve_offer, reject_offer, list_corrections, list_items]
