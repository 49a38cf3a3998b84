"""Litestar app: REST API v1, health and metrics. Reads go through the one DB owner (this process).

``import appliance.api`` stays light: no torch, no transformers, no vLLM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.params import Parameter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from appliance import metrics_db
from appliance.errors import ApplianceError, Conflict
from appliance.mail import status as mail_status
from appliance.mail.blobstore import BlobStore
from appliance.settings import Settings
from appliance.store import outbox, queries, repo, suppliers
from appliance.store.db import Database
from appliance.store.sync import naive_utc
from appliance.workflow import dialogue
from appliance.workflow.delivery import clear_markers


@dataclass
class AppContext:
    settings: Settings
    db: Database
    redis: redis.Redis
    # Queue an extraction (mail_id, sha256); None where no broker runs (tests of reads).
    requeue: Any = None
    # Queue the delivery of an outbox row (store.outbox.Delivery); None without a broker.
    deliver: Any = None
    # Record a raw mail already in the blob store (messages.RecordMail → store.repo.Recorded)
    # and queue its extraction: ``jobs.actors.record``; None without a broker.
    intake: Any = None


def _ctx(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


@get("/api/v1/offers")
async def list_offers(
    state: State,
    supplier: str | None = None,
    offer_state: str | None = Parameter(query="state", default=None),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
    q: str | None = None,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
    reviewed: bool | None = None,
) -> dict[str, Any]:
    """Offers, newest first. Filters: supplier (name or e-mail), state, created since/until,
    ``q`` (text in the supplier's name or e-mail, the subject, the items' product names, SKUs
    and brands), ``reviewed`` (approved by a person or not).

    Incremental sync: with ``updated_since`` (ISO 8601; UTC when no offset is given) only
    offers changed after it are returned, oldest change first, ordered by (updated_at, id).
    Every page carries ``next_updated_since`` and ``next_after_id``; ask again with
    ``updated_since=<next_updated_since>&after_id=<next_after_id>`` until a page is empty: an
    offer changed meanwhile comes again, none is skipped. Paging with a fixed
    ``updated_since`` and ``offset`` also works while offers are only added."""
    return queries.list_offers(
        _ctx(state).db, supplier=supplier, state=offer_state, since=naive_utc(since),
        until=naive_utc(until), limit=limit, offset=offset, q=q,
        updated_since=naive_utc(updated_since), after_id=after_id, reviewed=reviewed,
    )  # fmt: skip


@get("/api/v1/offers/{offer_id:int}")
async def get_offer(state: State, offer_id: int) -> dict[str, Any]:
    """One offer in the extraction contract's shape, with its state and source mail ids."""
    return queries.get_offer(_ctx(state).db, offer_id)


@get("/api/v1/mails")
async def list_mails(
    state: State,
    mail_state: str | None = Parameter(query="state", default=None),
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
) -> dict[str, Any]:
    """Mails, newest first, with state and error; filter by state (e.g. ``failed``)."""
    return queries.list_mails(_ctx(state).db, state=mail_state, limit=limit, offset=offset)


@get("/api/v1/mails/{mail_id:int}")
async def get_mail(state: State, mail_id: int) -> dict[str, Any]:
    """One mail: headers, state, error, keys it was seen under, its offer and its events."""
    return queries.get_mail(_ctx(state).db, mail_id)


@get("/api/v1/mails/{mail_id:int}/raw", media_type="message/rfc822", sync_to_thread=False)
def mail_raw(state: State, mail_id: int) -> bytes:
    """The mail exactly as received (from the blob store), e.g. for training data export."""
    ctx = _ctx(state)
    sha = queries.get_mail(ctx.db, mail_id)["sha256"]
    return BlobStore(ctx.settings.paths.blob_dir).get(str(sha))


@post("/api/v1/mails/{mail_id:int}/retry", status_code=202, opt={"scope": "operate"})
async def retry_mail(state: State, mail_id: int) -> dict[str, Any]:
    """Send a (failed) mail through extraction again."""
    ctx = _ctx(state)
    sha = repo.retry_mail(ctx.db, mail_id)
    if ctx.requeue is not None:
        ctx.requeue(mail_id, sha)
    return {"mail_id": mail_id, "state": repo.RECEIVED}


@post(
    "/api/v1/offers/{offer_id:int}/close", status_code=200, sync_to_thread=False,
    opt={"scope": "review"},
)  # fmt: skip
def close_offer(state: State, offer_id: int) -> dict[str, Any]:
    """Close an offer: no more questions, reminders or merged replies."""
    ctx = _ctx(state)
    dialogue.close_offer(ctx.db, offer_id, actor="api", reason="closed through the API")
    return queries.get_offer(ctx.db, offer_id, detail=False)


@get("/api/v1/suppliers", sync_to_thread=False)
def list_suppliers(
    state: State,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """The supplier registry: configured suppliers first, then senders seen so far.

    Incremental sync: ``updated_since`` (+ ``after_id``) as for ``GET /api/v1/offers``: rows
    changed after it, ordered by (updated_at, id), with ``next_updated_since`` and
    ``next_after_id`` on every page."""
    return suppliers.list_suppliers(
        _ctx(state).db, limit=limit, offset=offset, updated_since=naive_utc(updated_since),
        after_id=after_id,
    )  # fmt: skip


@get("/api/v1/suppliers/{supplier_id:int}", sync_to_thread=False)
def get_supplier(state: State, supplier_id: int) -> dict[str, Any]:
    """One supplier: addresses, domains, language, policy and its offers."""
    return suppliers.get_supplier(_ctx(state).db, supplier_id)


@get("/api/v1/outbox", sync_to_thread=False)
def list_outbox(
    state: State,
    outbox_state: str | None = Parameter(query="state", default=None),
    offer_id: int | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
) -> dict[str, Any]:
    """Automatic e-mails, newest first; ``state=suppressed`` lists each refusal and its reason."""
    return outbox.list_outbox(
        _ctx(state).db, state=outbox_state, offer_id=offer_id, limit=limit, offset=offset
    )


@get("/api/v1/outbox/{outbox_id:int}", sync_to_thread=False)
def get_outbox(state: State, outbox_id: int) -> dict[str, Any]:
    """One automatic e-mail with the full message as sent (or as it would be sent)."""
    return outbox.get_outbox(_ctx(state).db, outbox_id)


@post(
    "/api/v1/outbox/{outbox_id:int}/resend", status_code=202, sync_to_thread=False,
    opt={"scope": "operate"},
)  # fmt: skip
def resend(state: State, outbox_id: int) -> dict[str, Any]:
    """Send a failed or uncertain e-mail again (an operator checked it did not arrive)."""
    ctx = _ctx(state)
    try:
        d = outbox.requeue(ctx.db, outbox_id)
    except ValueError as exc:
        raise Conflict(str(exc)) from exc
    clear_markers(ctx.settings, ctx.redis, d.idem_key, d.message_id)
    if ctx.deliver is not None:
        ctx.deliver(d)
    return {"id": outbox_id, "state": "queued"}


def check_health(ctx: AppContext) -> dict[str, Any]:
    """Redis, the LLM server and the DB, each with its status."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        ctx.redis.ping()
        checks["redis"] = {"status": "ok"}
    except redis.RedisError as exc:
        checks["redis"] = {"status": "down", "error": str(exc)}
    servers: list[dict[str, Any]] = []
    for root in (u.removesuffix("/v1") for u in ctx.settings.llm.urls):
        try:
            r = httpx.get(f"{root}/health", timeout=3.0)
            servers.append({"status": "ok" if r.status_code == 200 else "down", "url": root})
            if r.status_code != 200:
                servers[-1]["error"] = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            servers.append({"status": "down", "url": root, "error": str(exc) or type(exc).__name__})
    # Several vLLM servers (llm.base_urls): up while one answers; each listed with its status.
    up = any(x["status"] == "ok" for x in servers)
    checks["llm"] = {**servers[0], "status": "ok" if up else "down"}
    if len(servers) > 1:
        checks["llm"]["servers"] = servers
    try:
        checks["db"] = {"status": "ok", **queries.counts(ctx.db)}
        if ctx.db.recovery is not None:  # serving, but a damaged file was set aside at start
            checks["db"]["status"] = "recovered"
            checks["db"]["recovery"] = ctx.db.recovery.as_json()
    except Exception as exc:
        checks["db"] = {"status": "down", "error": str(exc)}
    accounts = [a.name for a in ctx.settings.accounts]
    if accounts:  # each account's last poll (the worker records it in Redis)
        try:
            polled = mail_status.read(ctx.redis, ctx.settings.redis.namespace, accounts)
            failed = sorted(n for n, e in polled.items() if e.get("status") == "failed")
            checks["mail"] = {"status": "failed" if failed else "ok", "accounts": polled}
            if failed:
                checks["mail"]["error"] = f"failing for good: {', '.join(failed)}"
        except redis.RedisError as exc:
            checks["mail"] = {"status": "unknown", "error": str(exc)}
    states = {c["status"] for c in checks.values()}
    status = "recovered" if "recovered" in states else "ok"
    if states - {"ok", "recovered", "unknown"}:
        status = "degraded"
    return {"status": status, "checks": checks}


@get("/healthz", sync_to_thread=True, opt={"public": True})
def healthz(state: State) -> Response[dict[str, Any]]:
    """200 when Redis, the LLM server and the DB all answer and no mail account failed for good
    (``checks.mail``: each account's last poll; a wrong password is ``failed``); 503 with the
    failing ones otherwise."""
    body = check_health(_ctx(state))
    return Response(body, status_code=503 if body["status"] == "degraded" else 200)


@get("/metrics", media_type=CONTENT_TYPE_LATEST, sync_to_thread=True, opt={"scope": "metrics"})
def prometheus_metrics(state: State) -> bytes:
    """Prometheus exposition: this process's counters, then what the DB and the broker hold
    (computed per scrape, see ``appliance.metrics_db``)."""
    ctx = _ctx(state)
    sources = metrics_db.server_sources(ctx.settings, ctx.db, ctx.redis)
    return generate_latest() + metrics_db.generate(sources)


def _error_handler(_: Request[Any, Any, Any], exc: ApplianceError) -> Response[dict[str, str]]:
    return Response(exc.as_dict(), status_code=exc.http_status, media_type=MediaType.JSON)


def create_app(ctx: AppContext) -> Litestar:
    """The Litestar app over an open DB (the caller owns its lifecycle)."""
    from appliance.api import catalogue, export, intake, ops, review, webhooks
    from appliance.auth import guard as auth_guard
    from appliance.auth import routes as auth
    from appliance.web import catalogue as web_catalogue
    from appliance.web import routes as web
    from appliance.web.headers import security_headers

    return Litestar(
        route_handlers=[
            *review.ROUTES,
            *export.ROUTES,
            *catalogue.ROUTES,
            *webhooks.ROUTES,
            *ops.ROUTES,
            *intake.ROUTES,
            *web.ROUTES,
            *web_catalogue.ROUTES,
            *auth.ROUTES,
            list_offers,
            get_offer,
            list_mails,
            get_mail,
            retry_mail,
            mail_raw,
            close_offer,
            list_suppliers,
            get_supplier,
            list_outbox,
            get_outbox,
            resend,
            healthz,
            prometheus_metrics,
        ],
        state=State({"ctx": ctx}),
        exception_handlers={ApplianceError: _error_handler, **auth_guard.EXCEPTION_HANDLERS},
        # Every route declares its access in ``opt`` (see appliance.auth); one guard enforces it.
        guards=[auth_guard.access_guard],
        # Dashboard: Jinja templates; CSP and other security headers on every response.
        template_config=web.TEMPLATE_CONFIG,
        before_send=[security_headers],
        openapi_config=OpenAPIConfig(
            title="Supplier mail appliance", version="1", path="/api/schema"
        ),
        # Keep the process's logging (``appliance --log-format json``): Litestar's records go
        # to the root handlers instead of replacing them with a root logger of its own.
        logging_config=LoggingConfig(
            configure_root_logger=False,
            loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}},
        ),
    )
