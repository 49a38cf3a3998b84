"""Scoped API tokens: ``sma_<8-char prefix>_<secret>``; only their sha256 is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from appliance.auth import SCOPES, Principal
from appliance.errors import InvalidRequest, NotFound
from appliance.store.db import Database, iso_utc, utcnow

TOKEN_RE = re.compile(r"^sma_([a-z0-9]{8})_([A-Za-z0-9_-]{32,128})$")
# last_used_at is written at most this often per token.
LAST_USED_EVERY = dt.timedelta(seconds=60)
_ALPHABET = string.ascii_lowercase + string.digits


def new_token() -> tuple[str, str]:
    """A fresh token and its prefix: ``("sma_<prefix>_<secret>", prefix)``."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"sma_{prefix}_{secrets.token_urlsafe(32)}", prefix


def parse_token(token: str) -> str | None:
    """The prefix of a well-formed token, else None."""
    m = TOKEN_RE.match(token)
    return m.group(1) if m else None


def token_hash(token: str) -> str:
    """The stored form of a token: sha256 hex (a 256-bit random secret needs no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_scopes(scopes: list[str] | tuple[str, ...] | frozenset[str]) -> list[str]:
    """The scopes sorted and de-duplicated; 400 for an empty list or an unknown scope."""
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise InvalidRequest(
            f"unknown scope(s) {', '.join(unknown)}: use {', '.join(sorted(SCOPES))}"
        )
    if not scopes:
        raise InvalidRequest("a token needs at least one scope")
    return sorted(set(scopes))


@dataclass(frozen=True)
class TokenInfo:
    """One row of ``api_tokens`` without its hash."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_by: str
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None
    active: bool

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> TokenInfo:
        scopes = r["scopes"]
        expired = r["expires_at"] is not None and r["expires_at"] <= utcnow()
        return cls(
            id=int(r["id"]), name=r["name"], prefix=r["prefix"],
            scopes=json.loads(scopes) if isinstance(scopes, str) else list(scopes),
            created_by=r["created_by"], created_at=iso_utc(r["created_at"]),
            expires_at=iso_utc(r["expires_at"]), revoked_at=iso_utc(r["revoked_at"]),
            last_used_at=iso_utc(r["last_used_at"]),
            active=r["revoked_at"] is None and not expired,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """The API's shape of a token (never the secret)."""
        return {
            "id": self.id, "name": self.name, "prefix": self.prefix, "scopes": self.scopes,
            "created_by": self.created_by, "created_at": self.created_at,
            "expires_at": self.expires_at, "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at, "active": self.active,
        }  # fmt: skip


_COLS = "id, name, prefix, scopes, created_by, created_at, expires_at, revoked_at, last_used_at"


def create_token(
    db: Database,
    name: str,
    scopes: list[str],
    *,
    created_by: str,
    expires_days: float | None = None,
) -> tuple[TokenInfo, str]:
    """A new token: its row and the token itself (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidRequest("a token needs a name of 1 to 64 characters")
    clean = check_scopes(scopes)
    if expires_days is not None and expires_days <= 0:
        raise InvalidRequest("expires_days must be positive")
    token, prefix = new_token()
    now = utcnow()
    expires = now + dt.timedelta(days=expires_days) if expires_days is not None else None
    with db.transaction() as con:
        row = con.execute(
            "INSERT INTO api_tokens (name, token_hash, prefix, scopes, created_by, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [name, token_hash(token), prefix, json.dumps(clean), created_by, now, expires],
        ).fetchone()
    assert row is not None
    return get_token(db, int(row[0])), token


def get_token(db: Database, token_id: int) -> TokenInfo:
    """One token's row (404 when there is none)."""
    rows = db.query(f"SELECT {_COLS} FROM api_tokens WHERE id = ?", [token_id])
    if not rows:
        raise NotFound(f"no API token {token_id}")
    return TokenInfo.from_row(rows[0])


def list_tokens(db: Database) -> list[TokenInfo]:
    """Every token, newest first (revoked ones too)."""
    return [
        TokenInfo.from_row(r) for r in db.query(f"SELECT {_COLS} FROM api_tokens ORDER BY id DESC")
    ]


def revoke_token(db: Database, token_id: int) -> TokenInfo:
    """Revoke a token (idempotent: a revoked token keeps its first revocation time)."""
    get_token(db, token_id)
    with db.transaction() as con:
        con.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [utcnow(), token_id],
        )
    return get_token(db, token_id)


def principal_for_token(db: Database, token: str) -> Principal | None:
    """The principal of a valid token (well-formed, known, not revoked, not expired), else None.

    Updates ``last_used_at`` when it is older than :data:`LAST_USED_EVERY`.
    """
    if parse_token(token) is None:
        return None
    rows = db.query(
        "SELECT id, name, scopes, expires_at, revoked_at, last_used_at FROM api_tokens"
        " WHERE token_hash = ?",
        [token_hash(token)],
    )
    if not rows:
        return None
    r = rows[0]
    now = utcnow()
    if r["revoked_at"] is not None or (r["expires_at"] is not None and r["expires_at"] <= now):
        return None
    if r["last_used_at"] is None or now - r["last_used_at"] >= LAST_USED_EVERY:
        with db.transaction() as con:
            con.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [now, r["id"]])
    scopes = r["scopes"]
    parsed = json.loads(scopes) if isinstance(scopes, str) else list(scopes)
    return Principal(
        name=f"token:{r['name']}", role="token", scopes=frozenset(parsed) & SCOPES, via="token"
    )
