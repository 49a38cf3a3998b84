"""API routes for operators: online backup by the DB owner."""

from __future__ import annotations

from typing import Any

from litestar import post
from litestar.datastructures import State

from appliance.api.app import _ctx
from appliance.backup import backup_in_server


@post("/api/v1/admin/backup", status_code=201, sync_to_thread=True, opt={"scope": "admin"})
def backup(state: State, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write a backup archive into the data dir's ``backups/`` while the server keeps running
    (a consistent snapshot of the database, then the raw mails, adapters and config).
    Body: ``{"name": "<file>.tar.gz"}`` (optional)."""
    ctx = _ctx(state)
    name = (data or {}).get("name")
    return backup_in_server(ctx.settings, ctx.db, str(name) if name else None)


ROUTES: list[Any] = [backup]
