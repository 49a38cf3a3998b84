"""Access control against a real ``appliance server`` process (DuckDB on disk, private Redis):
every route refuses anonymous callers, scopes, token revocation, sessions with CSRF, logout,
disabled users, login throttling, and the CLI's refusal while the server holds the database."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from appliance.auth.guard import AUTHENTICATED, PUBLIC, required_access
from tests.integration.services import Appliance, RedisServer

pytestmark = [pytest.mark.integration]

MAX_ATTEMPTS = 3
ADMIN_PW = "admin password 123"
PW = "reviewer password 1"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    work = tmp_path_factory.mktemp("auth")
    rs = RedisServer(work)
    env = {
        "APPLIANCE_REDIS__URL": rs.url,
        "APPLIANCE_AUTH__LOGIN_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "APPLIANCE_AUTH__LOGIN_WINDOW_S": "600",
    }
    appliance = Appliance(work, env)
    subprocess.run(
        [sys.executable, "-m", "appliance.cli", "users", "add", "root", "--role", "admin",
         "--password-stdin"],
        input=ADMIN_PW + "\n", env=appliance.env, text=True, check=True, capture_output=True,
    )  # fmt: skip
    appliance.start("server")
    for name, role in (("bob", "reviewer"), ("carol", "reviewer"), ("dave", "ml")):
        r = httpx.post(
            f"{appliance.url}/api/v1/users", json={"name": name, "role": role, "password": PW},
            headers=appliance.headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    try:
        yield appliance
    finally:
        appliance.stop_all()
        rs.stop()
        print(f"--- server log (tail) ---\n{appliance.log('server')[-3000:]}")


def _redis(app: Appliance) -> redis.Redis:
    return redis.Redis.from_url(app.env["APPLIANCE_REDIS__URL"])


def _login(app: Appliance, user: str, password: str, next_path: str = "/") -> httpx.Client:
    """A client holding a session (asserts the login succeeded)."""
    c = httpx.Client(base_url=app.url, timeout=10)
    r = _post_login(c, user, password, next_path)
    assert r.status_code == 303, r.text
    assert c.cookies.get("sma_session")
    return c


def _post_login(c: httpx.Client, user: str, password: str, next_path: str = "/") -> httpx.Response:
    page = c.get("/login")
    assert page.status_code == 200
    m = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert m, page.text
    form = {"username": user, "password": password, "next": next_path, "_csrf": m.group(1)}
    return c.post("/login", data=form)


def _post_login_plain_http(c: httpx.Client, user: str, password: str) -> httpx.Response:
    """``_post_login`` against a server with ``secure_cookies``: over plain http a client keeps
    Secure cookies to itself, so the login form's CSRF cookie is sent back by hand (as the
    browser would over the HTTPS proxy)."""
    page = c.get("/login")
    m = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert m and page.status_code == 200, page.text
    (set_cookie,) = [h for h in page.headers.get_list("set-cookie") if h.startswith("sma_login")]
    assert "secure" in [f.strip().lower() for f in set_cookie.split(";")]
    cookie = set_cookie.split(";", 1)[0]
    form = {"username": user, "password": password, "next": "/", "_csrf": m.group(1)}
    return c.post("/login", data=form, headers={"Cookie": cookie})


def _protected_routes() -> list[tuple[str, str, str]]:
    """(method, path with parameters filled by 1, need) of every route of the real app that is
    not public (built in-process from the same code the server runs)."""
    from appliance.api.app import AppContext, create_app
    from appliance.settings import Settings
    from appliance.store.db import Database

    s = Settings()
    db = Database.open(None)
    try:
        app = create_app(AppContext(settings=s, db=db, redis=redis.Redis.from_url(s.redis.url)))
        out = []
        for route in app.routes:
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            for handler in getattr(route, "route_handlers", []):
                for method in sorted(getattr(handler, "http_methods", ())):
                    need = required_access(handler.opt, method)
                    if method == "OPTIONS" or need == PUBLIC:
                        continue
                    if need == "metrics" and s.auth.public_metrics:
                        continue
                    out.append((method, path, need))
        return out
    finally:
        db.close()


def test_cli_refuses_while_the_server_holds_the_database(app: Appliance) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "users", "list"],
        env=app.env, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2
    assert "stop the server" in out.stderr and "/api/v1/users" in out.stderr


def test_every_protected_route_refuses_anonymous_callers(app: Appliance) -> None:
    routes = _protected_routes()
    paths = {p for _, p, _ in routes}
    assert {"/api/v1/offers", "/api/v1/users", "/api/schema/openapi.json"} <= paths
    for method, path, _ in routes:
        r = httpx.request(method, f"{app.url}{path}", timeout=10)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
            assert r.json()["code"] == "unauthorized"
        else:
            assert r.status_code == 303, (method, path, r.status_code, r.text[:200])
            assert r.headers["location"].startswith("/login"), (method, path)
            if method == "GET":
                assert r.headers["location"] == f"/login?next={path}"
    # Public ones answer without credentials.
    assert httpx.get(f"{app.url}/login").status_code == 200
    assert httpx.get(f"{app.url}/healthz").status_code in (200, 503)
    assert httpx.get(f"{app.url}/metrics").status_code == 200


def test_scopes_and_revoked_tokens(app: Appliance) -> None:
    def token(name: str, scopes: list[str]) -> dict[str, Any]:
        r = httpx.post(
            f"{app.url}/api/v1/tokens", json={"name": name, "scopes": scopes}, headers=app.headers
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    ro = token("reader", ["read"])
    assert ro["token"].startswith(f"sma_{ro['prefix']}_")
    hdr = {"Authorization": f"Bearer {ro['token']}"}
    assert httpx.get(f"{app.url}/api/v1/offers", headers=hdr).status_code == 200
    me = httpx.get(f"{app.url}/api/v1/me", headers=hdr).json()
    assert me == {"name": "token:reader", "role": "token", "scopes": ["read"], "via": "token",
                  "csrf_token": None}  # fmt: skip
    for method, path, need in _protected_routes():
        if need in ("read", AUTHENTICATED):
            continue
        r = httpx.request(method, f"{app.url}{path}", headers=hdr, timeout=10)
        assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
    listed = httpx.get(f"{app.url}/api/v1/tokens", headers=app.headers).json()["items"]
    row = next(t for t in listed if t["id"] == ro["id"])
    assert row["last_used_at"] is not None and "token" not in row
    r = httpx.delete(f"{app.url}/api/v1/tokens/{ro['id']}", headers=app.headers)
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = httpx.get(f"{app.url}/api/v1/offers", headers=hdr)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    bad = httpx.get(f"{app.url}/api/v1/offers", headers={"Authorization": "Bearer sma_nope"})
    assert bad.status_code == 401


def test_session_csrf_and_logout(app: Appliance) -> None:
    c = _login(app, "root", ADMIN_PW, next_path="/api/v1/me")
    me = c.get("/api/v1/me").json()
    assert me["name"] == "root" and me["via"] == "session" and "admin" in me["scopes"]
    csrf = me["csrf_token"]
    body = {"name": "from-session", "scopes": ["read"]}
    r = c.post("/api/v1/tokens", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["message"]
    r = c.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf + "x"})
    assert r.status_code == 403
    r = c.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["created_by"] == "root"
    # Logout is a form post: the CSRF token goes in the _csrf field.
    cookie = c.cookies["sma_session"]
    assert c.post("/logout").status_code == 403
    r = c.post("/logout", data={"_csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    old = httpx.get(f"{app.url}/api/v1/me", cookies={"sma_session": cookie})
    assert old.status_code == 401


def _session_cookie_header(r: httpx.Response) -> str:
    (header,) = [h for h in r.headers.get_list("set-cookie") if h.startswith("sma_session=")]
    return header


def test_session_cookie_flags(app: Appliance) -> None:
    """The session cookie is HttpOnly and SameSite=Strict, and not Secure unless configured
    (the server on plain http; see test_trusted_proxy_and_secure_cookies for Secure)."""
    with httpx.Client(base_url=app.url, timeout=10) as c:
        r = _post_login(c, "dave", PW)
        assert r.status_code == 303
        flags = [f.strip().lower() for f in _session_cookie_header(r).split(";")]
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
        assert "secure" not in flags
        assert any(f.startswith("max-age=") and int(f[8:]) > 0 for f in flags)


def test_login_form_rules(app: Appliance) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as c:
        # No pre-session CSRF token: refused before the password is looked at.
        r = c.post("/login", data={"username": "bob", "password": PW, "_csrf": "x" * 43})
        assert r.status_code == 403 and "sma_session" not in c.cookies
        # Only local paths as the target (no open redirect).
        r = _post_login(c, "bob", PW, next_path="//evil.example/x")
        assert r.status_code == 303 and r.headers["location"] == "/"
    dave = _login(app, "dave", PW, next_path="/offers?state=complete")
    assert dave.get("/api/v1/me").json()["scopes"] == ["export", "read"]
    assert dave.get("/api/v1/users").status_code == 403
    dave.close()
    # A wrong password and an unknown user get the same answer.
    with httpx.Client(base_url=app.url, timeout=10) as c:
        a = _post_login(c, "bob", "wrong password!")
        b = _post_login(c, "nobody-here", "wrong password!")
        assert a.status_code == b.status_code == 401
        assert "Wrong user name or password." in a.text and "Wrong user name or password." in b.text
    _redis(app).delete(*_redis(app).keys("appliance:auth:login-fail:*"))


def test_disabled_user_session_ends(app: Appliance) -> None:
    c = _login(app, "carol", PW)
    assert c.get("/api/v1/me").status_code == 200
    r = httpx.patch(f"{app.url}/api/v1/users/carol", json={"active": False}, headers=app.headers)
    assert r.status_code == 200 and r.json()["active"] is False
    assert c.get("/api/v1/me").status_code == 401
    with httpx.Client(base_url=app.url, timeout=10) as c2:
        assert _post_login(c2, "carol", PW).status_code == 401
    r = httpx.patch(f"{app.url}/api/v1/users/carol", json={"active": True}, headers=app.headers)
    assert r.status_code == 200
    assert _login(app, "carol", PW).get("/api/v1/me").status_code == 200
    _redis(app).delete(*_redis(app).keys("appliance:auth:login-fail:*"))


def test_login_throttle_per_user_then_per_address(app: Appliance) -> None:
    r_client = _redis(app)
    r_client.delete(*r_client.keys("appliance:auth:login-fail:*") or ["-"])
    with httpx.Client(base_url=app.url, timeout=10) as c:
        for _ in range(MAX_ATTEMPTS):
            assert _post_login(c, "bob", "wrong password!").status_code == 401
        r = _post_login(c, "bob", PW)  # the right password, too late
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert "Too many failed log-ins" in r.text and "sma_session" not in c.cookies
    # The address's count is shared; forget it to show the user limit is per user.
    r_client.delete(*r_client.keys("appliance:auth:login-fail:ip:*"))
    _login(app, "dave", PW).close()
    # Failures spread over user names still count against the address.
    with httpx.Client(base_url=app.url, timeout=10) as c:
        for i in range(MAX_ATTEMPTS):
            assert _post_login(c, f"ghost{i}", "wrong password!").status_code == 401
        r = _post_login(c, "dave", PW)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_forwarded_for_is_ignored_by_default(app: Appliance) -> None:
    """Without ``auth.trusted_proxies`` the throttle counts per socket peer: a client that
    invents a new X-Forwarded-For for each attempt is still blocked."""
    r_client = _redis(app)
    r_client.delete(*r_client.keys("appliance:auth:login-fail:*") or ["-"])
    try:
        with httpx.Client(base_url=app.url, timeout=10) as c:
            for i in range(MAX_ATTEMPTS):
                c.headers["X-Forwarded-For"] = f"203.0.113.{i + 1}"
                assert _post_login(c, f"ghost{i}", "wrong password!").status_code == 401
            c.headers["X-Forwarded-For"] = "203.0.113.200"
            assert _post_login(c, "dave", PW).status_code == 429
    finally:
        r_client.delete(*r_client.keys("appliance:auth:login-fail:*") or ["-"])


def test_trusted_proxy_and_secure_cookies(app: Appliance) -> None:
    """With the loopback listed in ``auth.trusted_proxies`` (the reverse proxy's address), the
    throttle counts per X-Forwarded-For client: one client blocked, another behind the same
    proxy not. ``auth.secure_cookies`` marks the session cookie Secure."""
    r_client = _redis(app)
    r_client.delete(*r_client.keys("appliance:auth:login-fail:*") or ["-"])
    app.stop("server")
    app.start("server", {"APPLIANCE_AUTH__TRUSTED_PROXIES": '["127.0.0.1", "::1"]',
                         "APPLIANCE_AUTH__SECURE_COOKIES": "true"})  # fmt: skip
    try:
        with httpx.Client(base_url=app.url, timeout=10) as c:
            # The client spoofs an address on the left; the proxy appended the real one.
            c.headers["X-Forwarded-For"] = "198.51.100.1, 203.0.113.7"
            for i in range(MAX_ATTEMPTS):
                r = _post_login_plain_http(c, f"ghost{i}", "wrong password!")
                assert r.status_code == 401
            assert _post_login_plain_http(c, "dave", PW).status_code == 429
            c.headers["X-Forwarded-For"] = "203.0.113.8, 203.0.113.7"  # still the same client
            assert _post_login_plain_http(c, "dave", PW).status_code == 429
        with httpx.Client(base_url=app.url, timeout=10) as c:
            c.headers["X-Forwarded-For"] = "203.0.113.9"  # another client, same proxy
            r = _post_login_plain_http(c, "dave", PW)
            assert r.status_code == 303
            flags = [f.strip().lower() for f in _session_cookie_header(r).split(";")]
            assert {"secure", "httponly", "samesite=strict"} <= set(flags)
    finally:
        r_client.delete(*r_client.keys("appliance:auth:login-fail:*") or ["-"])
        app.stop("server")
        app.start("server")
