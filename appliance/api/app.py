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
from litestar.openapi import OpenAPIConfig
from litestar.params import Parameter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from appliance import metrics
from appliance.errors import ApplianceError
from appliance.settings import Settings
from appliance.store import queries, repo
from appliance.store.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    redis: redis.Redis
    # Queue an extraction (mail_id, sha256); None where no broker runs (tests of reads).
    requeue: Any = None


def _ctx(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


def _naive_utc(d: dt.datetime | None) -> dt.datetime | None:
    return d.astimezone(dt.UTC).replace(tzinfo=None) if d and d.tzinfo else d


@get("/api/v1/offers")
async def list_offers(
    state: State,
    supplier: str | None = None,
    offer_state: str | None = Parameter(query="state", default=None),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
) -> dict[str, Any]:
    """Offers, newest first. Filters: supplier (name or e-mail), state, created since/until."""
    return queries.list_offers(
        _ctx(state).db, supplier=supplier, state=offer_state, since=_naive_utc(since),
        until=_naive_utc(until), limit=limit, offset=offset,
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


@post("/api/v1/mails/{mail_id:int}/retry", status_code=202)
async def retry_mail(state: State, mail_id: int) -> dict[str, Any]:
    """Send a (failed) mail through extraction again."""
    ctx = _ctx(state)
    sha = repo.retry_mail(ctx.db, mail_id)
    if ctx.requeue is not None:
        ctx.requeue(mail_id, sha)
    return {"mail_id": mail_id, "state": repo.RECEIVED}


def check_health(ctx: AppContext) -> dict[str, Any]:
    """Redis, the LLM server and the DB, each with its status."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        ctx.redis.ping()
        checks["redis"] = {"status": "ok"}
    except redis.RedisError as exc:
        checks["redis"] = {"status": "down", "error": str(exc)}
    root = ctx.settings.llm.base_url.rstrip("/").removesuffix("/v1")
    try:
        r = httpx.get(f"{root}/health", timeout=3.0)
        checks["llm"] = {"status": "ok" if r.status_code == 200 else "down", "url": root}
        if r.status_code != 200:
            checks["llm"]["error"] = f"HTTP {r.status_code}"
    except httpx.HTTPError as exc:
        checks["llm"] = {"status": "down", "url": root, "error": str(exc) or type(exc).__name__}
    try:
        checks["db"] = {"status": "ok", **queries.counts(ctx.db)}
    except Exception as exc:
        checks["db"] = {"status": "down", "error": str(exc)}
    ok = all(c["status"] == "ok" for c in checks.values())
    return {"status": "ok" if ok else "degraded", "checks": checks}


@get("/healthz", sync_to_thread=True)
def healthz(state: State) -> Response[dict[str, Any]]:
    """200 when Redis, the LLM server and the DB all answer; 503 with the failing ones otherwise."""
    body = check_health(_ctx(state))
    return Response(body, status_code=200 if body["status"] == "ok" else 503)


@get("/metrics", media_type=CONTENT_TYPE_LATEST, sync_to_thread=False)
def prometheus_metrics(state: State) -> bytes:
    """Prometheus exposition of this process's metrics."""
    c = queries.counts(_ctx(state).db)
    for s in repo.MAIL_STATES:
        metrics.MAILS_BY_STATE.labels(s).set(c["mails"].get(s, 0))
    metrics.OFFERS_TOTAL.set(c["offers"])
    return generate_latest()


def _error_handler(_: Request[Any, Any, Any], exc: ApplianceError) -> Response[dict[str, str]]:
    return Response(exc.as_dict(), status_code=exc.http_status, media_type=MediaType.JSON)


def create_app(ctx: AppContext) -> Litestar:
    """The Litestar app over an open DB (the caller owns its lifecycle)."""
    return Litestar(
        route_handlers=[
            list_offers,
            get_offer,
            list_mails,
            get_mail,
            retry_mail,
            healthz,
            prometheus_metrics,
        ],
        state=State({"ctx": ctx}),
        exception_handlers={ApplianceError: _error_handler},
        openapi_config=OpenAPIConfig(
            title="Supplier mail appliance", version="1", path="/api/schema"
        ),
    )
