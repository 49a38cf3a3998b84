"""API routes: webhooks: the configured hooks, the delivery log with its attempts, retries.

Deliveries are written and sent by :mod:`appliance.integrations.webhooks` in the server.
"""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.params import Parameter

from appliance.errors import InvalidRequest
from appliance.integrations import webhooks


def _ctx(state: State) -> Any:
    return state.ctx


@get("/api/v1/webhooks", opt={"scope": "admin"}, sync_to_thread=False)
def list_webhooks(state: State) -> dict[str, Any]:
    """The configured hooks (URL without password) with their deliveries counted by state."""
    ctx = _ctx(state)
    return webhooks.list_hooks(ctx.db, ctx.settings.webhooks)


@get("/api/v1/webhooks/deliveries", opt={"scope": "admin"}, sync_to_thread=False)
def list_deliveries(
    state: State,
    hook: str | None = None,
    delivery_state: str | None = Parameter(query="state", default=None),
    offer_id: int | None = None,
    limit: int = Parameter(default=50, ge=1, le=500),
    offset: int = Parameter(default=0, ge=0),
) -> dict[str, Any]:
    """Deliveries, newest first, each with its payload and attempts (status, error, duration).
    Filters: hook, state (pending, retrying, delivered, failed), offer_id."""
    if delivery_state is not None and delivery_state not in webhooks.DELIVERY_STATES:
        raise InvalidRequest(
            f"unknown delivery state {delivery_state!r}",
            detail=f"known: {', '.join(webhooks.DELIVERY_STATES)}",
        )
    return webhooks.list_deliveries(
        _ctx(state).db, hook=hook, state=delivery_state, offer_id=offer_id, limit=limit,
        offset=offset,
    )  # fmt: skip


@post(
    "/api/v1/webhooks/deliveries/{delivery_id:int}/retry",
    opt={"scope": "operate"},
    status_code=202,
    sync_to_thread=False,
)
def retry_delivery(state: State, delivery_id: int) -> dict[str, Any]:
    """Send a failed (or retrying) delivery again now, with a fresh round of attempts."""
    return webhooks.retry_delivery(_ctx(state).db, delivery_id)


ROUTES: list[Any] = [list_webhooks, list_deliveries, retry_delivery]
