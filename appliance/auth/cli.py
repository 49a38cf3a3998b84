"""``appliance users …`` and ``appliance tokens …``: manage access with the server stopped.

These open the DuckDB file directly; while ``appliance server`` holds it they stop with a message
pointing at the admin API (``/api/v1/users``, ``/api/v1/tokens``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from appliance.auth import ROLES, SCOPES, tokens, users
from appliance.auth.passwords import check_password_policy
from appliance.errors import DatabaseLocked, InvalidRequest
from appliance.settings import Settings
from appliance.store.db import Database

log = logging.getLogger(__name__)
PASSWORD_ENV = "APPLIANCE_NEW_PASSWORD"


@contextmanager
def open_db(settings: Settings) -> Iterator[Database]:
    """The database, opened here; :class:`DatabaseLocked` when the server holds it."""
    try:
        db = Database.open(settings.paths.db_file)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise DatabaseLocked(
            f"{settings.paths.db_file} is in use by `appliance server`: stop the server first,"
            " or use the admin API while it runs (/api/v1/users, /api/v1/tokens)",
            detail=str(exc),
        ) from exc
    try:
        yield db
    finally:
        db.close()


def read_new_password(stdin: bool) -> str:
    """The new password: from stdin (``--password-stdin``), ``$APPLIANCE_NEW_PASSWORD``, or an
    interactive prompt asked twice. Checked against the policy (10+ characters)."""
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        if not sys.stdin.isatty():
            raise InvalidRequest(
                f"no password: use --password-stdin, set {PASSWORD_ENV}, or run in a terminal"
            )
        password = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != password:
            raise InvalidRequest("the two passwords differ")
    check_password_policy(password)
    return password


def _end_sessions(settings: Settings, name: str) -> None:
    """Delete the user's sessions from Redis (the server also refuses them on its own)."""
    import redis

    from appliance.auth.sessions import SessionStore
    from appliance.jobs.broker import redis_client

    try:
        n = SessionStore(redis_client(settings), settings).delete_user(name)
    except redis.RedisError as exc:
        log.warning("could not reach Redis to end %s's sessions: %s", name, exc)
        return
    if n:
        print(f"ended {n} session(s) of {name}")


def cmd_users(s: Settings, a: argparse.Namespace) -> int:
    """``appliance users add|list|disable|passwd``."""
    if a.action == "add":
        if not a.role:
            raise InvalidRequest(f"users add needs --role ({'|'.join(ROLES)})")
        password = read_new_password(a.password_stdin)
        with open_db(s) as db:
            u = users.create_user(db, a.name, a.role, password)
        print(f"user {u.name} added (role {u.role})")
        return 0
    if a.action == "list":
        with open_db(s) as db:
            rows = users.list_users(db)
        if a.json:
            print(json.dumps([u.as_dict() for u in rows], indent=2))
            return 0
        for u in rows:
            state = "active" if u.active else "disabled"
            print(f"{u.name:<24} {u.role:<9} {state:<9} last login {u.last_login_at or 'never'}")
        return 0
    if not a.name:
        raise InvalidRequest(f"users {a.action} needs the user's name")
    if a.action == "disable":
        with open_db(s) as db:
            users.update_user(db, a.name, active=False)
        _end_sessions(s, a.name)
        print(f"user {a.name} disabled")
        return 0
    if a.action == "enable":
        with open_db(s) as db:
            users.update_user(db, a.name, active=True)
        print(f"user {a.name} enabled")
        return 0
    # passwd
    password = read_new_password(a.password_stdin)
    with open_db(s) as db:
        users.update_user(db, a.name, password=password)
    _end_sessions(s, a.name)
    print(f"password of {a.name} changed")
    return 0


def cmd_tokens(s: Settings, a: argparse.Namespace) -> int:
    """``appliance tokens create|list|revoke``."""
    if a.action == "create":
        if not a.name:
            raise InvalidRequest("tokens create needs a name (who or what uses the token)")
        with open_db(s) as db:
            info, token = tokens.create_token(
                db, a.name, a.scope or [], created_by="cli", expires_days=a.expires_days
            )
        # The token alone on stdout (scripts read it); the rest on stderr.
        print(token)
        print(
            f"token {info.id} {info.name!r} (scopes: {', '.join(info.scopes)}; expires:"
            f" {info.expires_at or 'never'}): store it now, it is not shown again",
            file=sys.stderr,
        )
        return 0
    if a.action == "list":
        with open_db(s) as db:
            rows = tokens.list_tokens(db)
        if a.json:
            print(json.dumps([t.as_dict() for t in rows], indent=2))
            return 0
        for t in rows:
            state = "revoked" if t.revoked_at else ("active" if t.active else "expired")
            print(
                f"{t.id:>4} {t.name:<20} sma_{t.prefix}_… {','.join(t.scopes):<28} {state:<8}"
                f" expires {t.expires_at or 'never'}  last used {t.last_used_at or 'never'}"
            )
        return 0
    if not a.name or not a.name.isdigit():
        raise InvalidRequest("tokens revoke needs the token's id (see `appliance tokens list`)")
    with open_db(s) as db:
        t = tokens.revoke_token(db, int(a.name))
    print(f"token {t.id} {t.name!r} revoked")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``users`` and ``tokens`` subcommands to the ``appliance`` parser."""
    u = sub.add_parser("users", help="dashboard/API users (with the server stopped)")
    u.add_argument("action", choices=["add", "list", "disable", "enable", "passwd"])
    u.add_argument("name", nargs="?")
    u.add_argument("--role", choices=list(ROLES))
    u.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password from stdin (else ${PASSWORD_ENV}, else a prompt)",
    )
    u.add_argument("--json", action="store_true", help="list as JSON")
    u.set_defaults(fn=cmd_users)

    t = sub.add_parser("tokens", help="scoped API tokens (with the server stopped)")
    t.add_argument("action", choices=["create", "list", "revoke"])
    t.add_argument("name", nargs="?", help="create: the token's name; revoke: its id")
    t.add_argument(
        "--scope", action="append", choices=sorted(SCOPES), help="repeat for several scopes"
    )
    t.add_argument("--expires-days", type=float, default=None)
    t.add_argument("--json", action="store_true", help="list as JSON")
    t.set_defaults(fn=cmd_tokens)
