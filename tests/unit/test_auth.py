"""Auth building blocks: password hashing, tokens, scopes, the access rule, next-URL safety,
and the users/tokens tables on a real (in-memory) DuckDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from argon2 import PasswordHasher

from appliance.auth import ROLE_SCOPES, SCOPES, role_scopes, tokens, users
from appliance.auth.client_addr import client_address, parse_networks
from appliance.auth.guard import AUTHENTICATED, PUBLIC, required_access, safe_next
from appliance.auth.passwords import hash_password, verify_password
from appliance.errors import ConfigError, Conflict, InvalidRequest, NotFound
from appliance.store.db import Database


@pytest.fixture()
def db() -> Iterator[Database]:
    d = Database.open(None)
    yield d
    d.close()


def test_hash_and_verify() -> None:
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$") and "correct" not in h
    assert verify_password(h, "correct horse battery") == (True, None)
    assert verify_password(h, "correct horse batterY") == (False, None)
    assert verify_password("not a hash", "correct horse battery") == (False, None)
    # An unknown user: a dummy hash is checked, the answer is always no.
    assert verify_password(None, "correct horse battery") == (False, None)


def test_rehash_when_parameters_change() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    ok, new = verify_password(old, "correct horse battery")
    assert ok and new is not None and new != old
    assert verify_password(new, "correct horse battery") == (True, None)


def test_password_policy() -> None:
    with pytest.raises(InvalidRequest, match="at least 10"):
        hash_password("short")


def test_token_format_and_parsing() -> None:
    token, prefix = tokens.new_token()
    assert token.startswith(f"sma_{prefix}_") and len(prefix) == 8
    assert tokens.parse_token(token) == prefix
    assert tokens.token_hash(token) == tokens.token_hash(token) != token
    assert len(tokens.token_hash(token)) == 64
    for bad in ("", "sma_", f"sma_{prefix}", f"xyz_{prefix}_{'a' * 43}", "sma_ABCDEFGH_" + "a" * 43,
                f"sma_{prefix}_short", f"Bearer {token}"):  # fmt: skip
        assert tokens.parse_token(bad) is None, bad


def test_scope_checks() -> None:
    assert tokens.check_scopes(["read", "export", "read"]) == ["export", "read"]
    with pytest.raises(InvalidRequest, match="unknown scope"):
        tokens.check_scopes(["read", "root"])
    with pytest.raises(InvalidRequest, match="at least one"):
        tokens.check_scopes([])
    assert role_scopes("reviewer") == {"read", "review", "export"}
    assert role_scopes("ml") == {"read", "export"}
    assert role_scopes("admin") == SCOPES
    assert role_scopes("nobody") == frozenset()


def test_required_access() -> None:
    assert required_access({"public": True}, "POST") == PUBLIC
    assert required_access({"scope": "review"}, "POST") == "review"
    assert required_access({"authenticated": True}, "GET") == AUTHENTICATED
    assert required_access({}, "GET") == "read"
    assert required_access({}, "HEAD") == "read"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert required_access({}, method) == "admin"
    with pytest.raises(ConfigError):
        required_access({"scope": "everything"}, "GET")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/review?state=open", "/review?state=open"),
        ("/offers/12", "/offers/12"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("/login", "/"),
        ("/logout", "/"),
        ("review", "/"),
    ],
)
def test_safe_next(raw: str | None, expected: str) -> None:
    assert safe_next(raw) == expected


def test_users_table(db: Database) -> None:
    u = users.create_user(db, "alice", "reviewer", "correct horse battery")
    assert u.as_dict()["role"] == "reviewer" and u.active
    with pytest.raises(Conflict):
        users.create_user(db, "alice", "admin", "another long password")
    with pytest.raises(InvalidRequest):
        users.create_user(db, "bob", "superuser", "another long password")
    with pytest.raises(InvalidRequest):
        users.create_user(db, "bad name!", "admin", "another long password")
    assert users.authenticate(db, "alice", "wrong password!") is None
    assert users.authenticate(db, "nobody", "correct horse battery") is None
    logged = users.authenticate(db, "alice", "correct horse battery")
    assert logged is not None and logged.last_login_at is not None
    assert users.active_role(db, "alice") == "reviewer"
    users.update_user(db, "alice", active=False)
    assert users.authenticate(db, "alice", "correct horse battery") is None
    assert users.active_role(db, "alice") is None
    users.update_user(db, "alice", active=True, role="ml", password="a new long password")
    assert users.authenticate(db, "alice", "correct horse battery") is None
    assert users.authenticate(db, "alice", "a new long password") is not None
    assert users.active_role(db, "alice") == "ml"
    with pytest.raises(NotFound):
        users.update_user(db, "nobody", active=False)


def test_last_admin_stays(db: Database) -> None:
    users.create_user(db, "root", "admin", "correct horse battery")
    with pytest.raises(Conflict, match="last active admin"):
        users.update_user(db, "root", active=False)
    with pytest.raises(Conflict, match="last active admin"):
        users.update_user(db, "root", role="reviewer")
    users.create_user(db, "root2", "admin", "correct horse battery")
    assert users.update_user(db, "root", active=False).active is False


def test_tokens_table(db: Database) -> None:
    info, token = tokens.create_token(db, "erp", ["read", "export"], created_by="t")
    assert info.scopes == ["export", "read"] and info.active
    p = tokens.principal_for_token(db, token)
    assert p is not None and p.name == "token:erp" and p.via == "token"
    assert p.scopes == {"read", "export"} and p.csrf_token is None
    assert tokens.get_token(db, info.id).last_used_at is not None
    assert tokens.principal_for_token(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    stored = db.scalar("SELECT token_hash FROM api_tokens WHERE id = ?", [info.id])
    assert stored == tokens.token_hash(token) and token not in str(
        db.query("SELECT * FROM api_tokens")
    )
    revoked = tokens.revoke_token(db, info.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert tokens.principal_for_token(db, token) is None
    assert tokens.revoke_token(db, info.id).revoked_at == revoked.revoked_at


def test_expired_token(db: Database) -> None:
    info, token = tokens.create_token(db, "short", ["read"], created_by="t", expires_days=1)
    assert tokens.principal_for_token(db, token) is not None
    past = dt.datetime(2000, 1, 1)
    db.con.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?", [past, info.id])
    assert tokens.principal_for_token(db, token) is None
    assert tokens.get_token(db, info.id).active is False
    with pytest.raises(InvalidRequest):
        tokens.create_token(db, "x", ["read"], created_by="t", expires_days=0)


PUBLIC_ROUTES = {
    ("/healthz", "GET"),
    ("/login", "GET"),
    ("/login", "POST"),
    ("/favicon.ico", "GET"),
    ("/static/{file_path:path}", "GET"),
    ("/static/{file_path:path}", "HEAD"),
    ("/static/{file_path:path}", "OPTIONS"),
}


def test_every_route_declares_known_access(db: Database) -> None:
    """Each handler of the real app resolves to public, authenticated or a known scope."""
    from appliance.api.app import AppContext, create_app
    from appliance.settings import Settings

    s = Settings()
    app = create_app(AppContext(settings=s, db=db, redis=redis.Redis.from_url(s.redis.url)))
    seen = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                need = required_access(handler.opt, method)
                assert need in (PUBLIC, AUTHENTICATED) or need in SCOPES
                seen[(route.path, method)] = need
    # The exact list of routes anyone may call: a route wrongly marked public fails here.
    public = {key for key, need in seen.items() if need == PUBLIC}
    assert public == PUBLIC_ROUTES, f"public routes changed: {sorted(public ^ PUBLIC_ROUTES)}"
    assert seen[("/api/v1/users", "POST")] == "admin"
    assert seen[("/api/schema/openapi.json", "GET")] == "read"
    assert seen[("/metrics", "GET")] == "metrics"
    # The intake API: a web form's or a bridge's token needs only "intake".
    assert seen[("/api/v1/mails", "POST")] == "intake"
    assert seen[("/api/v1/messages", "POST")] == "intake"
    assert seen[("/api/v1/mails", "GET")] == "read"
    assert ROLE_SCOPES["admin"] == SCOPES


TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        # Off (the default): the socket peer, whatever the header says.
        ("127.0.0.1", "203.0.113.9", [], "127.0.0.1"),
        # A header from a peer that is not a trusted proxy is ignored.
        ("198.51.100.7", "203.0.113.9", TRUSTED, "198.51.100.7"),
        ("127.0.0.1", None, TRUSTED, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", TRUSTED, "203.0.113.9"),
        # The client's own (spoofed) entries on the left are never believed.
        ("127.0.0.1", "1.1.1.1, 2.2.2.2, 203.0.113.9", TRUSTED, "203.0.113.9"),
        # Chained trusted proxies are skipped from the right.
        ("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", TRUSTED, "203.0.113.9"),
        ("::1", "2001:db8::5", TRUSTED, "2001:db8::5"),
        ("127.0.0.1", "[2001:db8::5]:4711", TRUSTED, "2001:db8::5"),
        ("127.0.0.1", "203.0.113.9:4711", TRUSTED, "203.0.113.9"),
        # Garbage where the client should be: the nearest trusted hop, never the garbage.
        ("127.0.0.1", "203.0.113.9, not-an-ip", TRUSTED, "127.0.0.1"),
        ("127.0.0.1", "10.0.0.1, 10.0.0.2", TRUSTED, "10.0.0.1"),
        # A huge header: only its tail is read.
        ("127.0.0.1", "9.9.9.9, " * 100_000 + "203.0.113.9", TRUSTED, "203.0.113.9"),
        ("testclient", "203.0.113.9", TRUSTED, "testclient"),
    ],
)
def test_client_address(peer: str, header: str | None, trusted: list[Any], expected: str) -> None:
    assert client_address(peer, header, trusted) == expected


def test_trusted_proxies_setting() -> None:
    from appliance.settings import Settings

    assert Settings().auth.trusted_proxies == []
    assert Settings(auth={"trusted_proxies": ["10.0.0.0/8"]}).auth.trusted_proxies == ["10.0.0.0/8"]
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings(auth={"trusted_proxies": ["proxy.example"]})
