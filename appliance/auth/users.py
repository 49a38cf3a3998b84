"""Users of the dashboard and API, in the DuckDB ``users`` table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from appliance.auth import ROLES
from appliance.auth.passwords import hash_password, verify_password
from appliance.errors import Conflict, InvalidRequest, NotFound
from appliance.store.db import Database, iso_utc, utcnow

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class User:
    """One row of ``users`` without its password hash."""

    id: int
    name: str
    role: str
    active: bool
    created_at: str | None
    updated_at: str | None
    last_login_at: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> User:
        return cls(
            id=int(r["id"]), name=r["name"], role=r["role"], active=bool(r["active"]),
            created_at=iso_utc(r["created_at"]), updated_at=iso_utc(r["updated_at"]),
            last_login_at=iso_utc(r["last_login_at"]),
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """The API's shape of a user."""
        return {
            "id": self.id, "name": self.name, "role": self.role, "active": self.active,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "last_login_at": self.last_login_at,
        }  # fmt: skip


_COLS = "id, name, role, active, created_at, updated_at, last_login_at"


def check_name(name: str) -> None:
    """A user name: letters, digits, ``. _ @ -``, at most 64 characters."""
    if not NAME_RE.match(name):
        raise InvalidRequest(
            f"invalid user name {name!r}: use letters, digits and . _ @ - (at most 64)"
        )


def check_role(role: str) -> None:
    """One of :data:`appliance.auth.ROLES`."""
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}: one of {', '.join(ROLES)}")


def create_user(db: Database, name: str, role: str, password: str) -> User:
    """Add a user (409 when the name is taken)."""
    check_name(name)
    check_role(role)
    pw_hash = hash_password(password)
    now = utcnow()
    with db.transaction() as con:
        if con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
            raise Conflict(f"user {name!r} exists")
        con.execute(
            "INSERT INTO users (name, role, password_hash, active, created_at, updated_at)"
            " VALUES (?, ?, ?, TRUE, ?, ?)",
            [name, role, pw_hash, now, now],
        )
    return get_user(db, name)


def find_user(db: Database, name: str) -> User | None:
    """The user called ``name``, or None."""
    rows = db.query(f"SELECT {_COLS} FROM users WHERE name = ?", [name])
    return User.from_row(rows[0]) if rows else None


def get_user(db: Database, name: str) -> User:
    """The user called ``name`` (404 when there is none)."""
    user = find_user(db, name)
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def list_users(db: Database) -> list[User]:
    """Every user, by name."""
    return [User.from_row(r) for r in db.query(f"SELECT {_COLS} FROM users ORDER BY name")]


def update_user(
    db: Database,
    name: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's role, active flag or password (only what is given)."""
    sets: list[str] = []
    params: list[Any] = []
    if role is not None:
        check_role(role)
        sets.append("role = ?")
        params.append(role)
    if active is not None:
        sets.append("active = ?")
        params.append(active)
    if password is not None:
        sets.append("password_hash = ?")
        params.append(hash_password(password))
    current = get_user(db, name)
    demoted = (role is not None and role != "admin") or active is False
    if demoted and current.role == "admin" and current.active:
        others = db.scalar(
            "SELECT count(*) FROM users WHERE role = 'admin' AND active AND name <> ?", [name]
        )
        if not others:
            raise Conflict(f"{name!r} is the last active admin: add another admin first")
    if sets:
        with db.transaction() as con:
            con.execute(
                f"UPDATE users SET {', '.join(sets)}, updated_at = ? WHERE name = ?",
                [*params, utcnow(), name],
            )
    return get_user(db, name)


def authenticate(db: Database, name: str, password: str) -> User | None:
    """The active user ``name`` when ``password`` is theirs, else None (same time either way).

    Records the login time and stores a new hash when the hasher's parameters changed.
    """
    rows = db.query("SELECT name, password_hash, active FROM users WHERE name = ?", [name])
    stored = rows[0]["password_hash"] if rows else None
    ok, new_hash = verify_password(stored, password)
    if not ok or not rows[0]["active"]:
        return None
    with db.transaction() as con:
        if new_hash:
            con.execute("UPDATE users SET password_hash = ? WHERE name = ?", [new_hash, name])
        con.execute("UPDATE users SET last_login_at = ? WHERE name = ?", [utcnow(), name])
    return get_user(db, name)


def active_role(db: Database, name: str) -> str | None:
    """The role of ``name`` when the user exists and is active, else None (checked on every
    session request, so a disabled user's sessions stop at once and role changes apply)."""
    rows = db.query("SELECT role, active FROM users WHERE name = ?", [name])
    if not rows or not rows[0]["active"]:
        return None
    return str(rows[0]["role"])
