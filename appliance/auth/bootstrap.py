"""First access for ``appliance demo``: an admin user and a read token for the demo itself."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from appliance.auth import tokens, users
from appliance.store.db import Database

DEMO_ADMIN = "admin"
DEMO_TOKEN = "demo"


@dataclass(frozen=True)
class DemoAccess:
    """What the demo needs: the admin's new password (None when the user existed) and a token."""

    admin: str
    admin_password: str | None
    token: str


def demo_access(db_file: Path) -> DemoAccess:
    """Open the (stopped) database, add user ``admin`` with a random password unless it exists,
    and make a fresh ``read`` token named ``demo`` (revoking the previous demo run's)."""
    db = Database.open(db_file)
    try:
        password = None
        if users.find_user(db, DEMO_ADMIN) is None:
            password = secrets.token_urlsafe(12)
            users.create_user(db, DEMO_ADMIN, "admin", password)
        for t in tokens.list_tokens(db):
            if t.name == DEMO_TOKEN and t.created_by == "demo" and t.revoked_at is None:
                tokens.revoke_token(db, t.id)
        _, token = tokens.create_token(db, DEMO_TOKEN, ["read"], created_by="demo")
    finally:
        db.close()
    return DemoAccess(admin=DEMO_ADMIN, admin_password=password, token=token)
