"""Login and logout pages, ``/api/v1/me`` and the admin API for users and tokens."""

from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio.to_thread
import jinja2
from litestar import MediaType, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie, State
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect

from appliance.auth import Principal, users
from appliance.auth.client_addr import client_address, parse_networks
from appliance.auth.guard import identify, safe_next
from appliance.auth.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, LoginThrottle, SessionStore
from appliance.auth.tokens import create_token, list_tokens, revoke_token
from appliance.errors import InvalidRequest, TransientError, Unauthorized
from appliance.settings import ROOT

TEMPLATES = ROOT / "appliance" / "web" / "templates"
WRONG_CREDENTIALS = "Wrong user name or password."


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )


def _ctx(state: State) -> Any:
    return state.ctx


def _client_ip(request: Request[Any, Any, Any], trusted_proxies: list[str]) -> str:
    """The address the login throttle counts: the socket peer, or with ``trusted_proxies``
    set the client a trusted proxy names in ``X-Forwarded-For`` (``auth.client_addr``)."""
    peer = request.client.host if request.client else "unknown"
    nets = parse_networks(trusted_proxies)
    return client_address(peer, request.headers.get("x-forwarded-for"), nets)


def _cookie(name: str, value: str, *, max_age: int, secure: bool, path: str = "/") -> Cookie:
    return Cookie(
        key=name, value=value, max_age=max_age, path=path, httponly=True, samesite="strict",
        secure=secure,
    )  # fmt: skip


def _login_page(
    request: Request[Any, Any, Any],
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """The login form with a pre-session CSRF token (double submit: cookie + hidden field)."""
    ctx = _ctx(request.app.state)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if len(token) < 32 or len(token) > 128:
        token = secrets.token_urlsafe(32)
    html = (
        _env()
        .get_template("login.html")
        .render(csrf_token=token, next=next_path, username=username, error=error)
    )
    cookie = _cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, secure=ctx.settings.auth.secure_cookies,
        path="/login",
    )  # fmt: skip
    return Response(
        html, status_code=status, media_type=MediaType.HTML, cookies=[cookie],
        headers={"Cache-Control": "no-store", **(headers or {})},
    )  # fmt: skip


def _current(request: Request[Any, Any, Any]) -> Principal | None:
    try:
        return identify(request)
    except (Unauthorized, TransientError):
        return None


@get("/login", opt={"public": True}, sync_to_thread=False)
def login_form(
    request: Request[Any, Any, Any],
    next_path: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Response[Any]:
    """The login page; a logged-in user goes straight to ``next``."""
    target = safe_next(next_path)
    principal = _current(request)
    if principal is not None and principal.via == "session":
        return Redirect(path=target, status_code=303)
    return _login_page(request, next_path=target)


@post("/login", opt={"public": True})
async def login_submit(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """Check the form's CSRF token, the throttle and the password; on success start a session
    (``sma_session`` cookie) and go to ``next`` (a local path only)."""
    ctx = _ctx(state)
    form = await request.form()
    username = str(form.get("username") or "").strip()[:128]
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    sent = str(form.get("_csrf") or "")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _login_page(
            request, next_path=target, username=username, status=403,
            error="The login form expired. Please log in again.",
        )  # fmt: skip
    throttle = LoginThrottle(ctx.redis, ctx.settings)
    ip = _client_ip(request, ctx.settings.auth.trusted_proxies)
    wait = throttle.blocked_for(username, ip)
    if wait:
        return _login_page(
            request, next_path=target, username=username, status=429,
            error=f"Too many failed log-ins. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )  # fmt: skip
    user = await anyio.to_thread.run_sync(users.authenticate, ctx.db, username, password)
    if user is None:
        throttle.failed(username, ip)
        return _login_page(
            request, next_path=target, username=username, status=401, error=WRONG_CREDENTIALS
        )
    throttle.succeeded(username)
    store = SessionStore(ctx.redis, ctx.settings)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.delete(old)
    token, _ = store.create(user.name, user.role)
    secure = ctx.settings.auth.secure_cookies
    return Redirect(
        path=target,
        status_code=303,
        cookies=[
            _cookie(SESSION_COOKIE, token, max_age=store.ttl_s, secure=secure),
            _cookie(LOGIN_CSRF_COOKIE, "", max_age=0, secure=secure, path="/login"),
        ],
    )


@post("/logout", opt={"authenticated": True}, sync_to_thread=False)
def logout(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """End the session (the guard checked its CSRF token) and go to the login page."""
    ctx = _ctx(state)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        SessionStore(ctx.redis, ctx.settings).delete(token)
    expired = _cookie(SESSION_COOKIE, "", max_age=0, secure=ctx.settings.auth.secure_cookies)
    return Redirect(path="/login", status_code=303, cookies=[expired])


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """The authenticated principal of a request (set by the access guard)."""
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthorized("not authenticated")
    return user


@get("/api/v1/me", opt={"authenticated": True}, sync_to_thread=False)
def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Who is asking: name, role, scopes, how (session or token) and the session's CSRF token."""
    p = principal_of(request)
    return {
        "name": p.name, "role": p.role, "scopes": sorted(p.scopes), "via": p.via,
        "csrf_token": p.csrf_token,
    }  # fmt: skip


@dataclass
class NewUser:
    """``POST /api/v1/users``."""

    name: str
    role: str
    password: str


@dataclass
class UserChange:
    """``PATCH /api/v1/users/{name}``: only the fields given change."""

    role: str | None = None
    active: bool | None = None
    password: str | None = None


@dataclass
class NewToken:
    """``POST /api/v1/tokens``."""

    name: str
    scopes: list[str] = field(default_factory=list)
    expires_days: float | None = None


@get("/api/v1/users", opt={"scope": "admin"}, sync_to_thread=False)
def list_users_route(state: State) -> dict[str, Any]:
    """Every user (never the password hash)."""
    return {"items": [u.as_dict() for u in users.list_users(_ctx(state).db)]}


@post("/api/v1/users", opt={"scope": "admin"}, status_code=201, sync_to_thread=True)
def create_user_route(state: State, data: JSONBody[NewUser]) -> dict[str, Any]:
    """Add a user: ``{"name", "role": "reviewer|ml|admin", "password"}`` (10+ characters)."""
    return users.create_user(_ctx(state).db, data.name, data.role, data.password).as_dict()


@patch("/api/v1/users/{name:str}", opt={"scope": "admin"}, sync_to_thread=True)
def update_user_route(
    state: State, name: FromPath[str], data: JSONBody[UserChange]
) -> dict[str, Any]:
    """Change a user's ``role``, ``active`` or ``password``; disabling a user or setting a new
    password ends their sessions."""
    ctx = _ctx(state)
    if data.role is None and data.active is None and data.password is None:
        raise InvalidRequest("nothing to change: give role, active or password")
    user = users.update_user(
        ctx.db, name, role=data.role, active=data.active, password=data.password
    )
    if data.active is False or data.password is not None:
        SessionStore(ctx.redis, ctx.settings).delete_user(name)
    return user.as_dict()


@get("/api/v1/tokens", opt={"scope": "admin"}, sync_to_thread=False)
def list_tokens_route(state: State) -> dict[str, Any]:
    """Every API token, newest first, with prefix, scopes, expiry, revocation and last use."""
    return {"items": [t.as_dict() for t in list_tokens(_ctx(state).db)]}


@post("/api/v1/tokens", opt={"scope": "admin"}, status_code=201, sync_to_thread=False)
def create_token_route(
    request: Request[Any, Any, Any], state: State, data: JSONBody[NewToken]
) -> dict[str, Any]:
    """Create a token: ``{"name", "scopes": [...], "expires_days"}``. The answer carries the
    token in ``token``, this once; only its hash is kept."""
    info, token = create_token(
        _ctx(state).db, data.name, data.scopes, created_by=principal_of(request).name,
        expires_days=data.expires_days,
    )  # fmt: skip
    return {**info.as_dict(), "token": token}


@delete(
    "/api/v1/tokens/{token_id:int}", opt={"scope": "admin"}, status_code=200, sync_to_thread=False
)
def revoke_token_route(state: State, token_id: FromPath[int]) -> dict[str, Any]:
    """Revoke a token (it stops working at once; the row stays for the record)."""
    return revoke_token(_ctx(state).db, token_id).as_dict()


ROUTES: list[Any] = [
    login_form, login_submit, logout, me, list_users_route, create_user_route,
    update_user_route, list_tokens_route, create_token_route, revoke_token_route,
]  # fmt: skip
