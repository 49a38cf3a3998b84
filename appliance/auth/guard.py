"""The access guard installed on the whole Litestar app, and how its refusals are answered.

Every route handler declares its access in ``opt`` (see :mod:`appliance.auth`); the guard runs
before the handler's parameters are parsed, identifies the caller (``Authorization: Bearer``
first, else the ``sma_session`` cookie), checks the scope and, for a session's unsafe request,
the CSRF token, and sets ``request.user`` to the :class:`~appliance.auth.Principal`.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote, urlsplit

import redis
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.types import ExceptionHandlersMap

from appliance.auth import SCOPES, Principal, role_scopes
from appliance.auth.sessions import SESSION_COOKIE, SessionStore
from appliance.auth.tokens import principal_for_token
from appliance.auth.users import active_role
from appliance.errors import (
    ApplianceError,
    ConfigError,
    Forbidden,
    TooManyRequests,
    TransientError,
    Unauthorized,
)

PUBLIC = "public"
AUTHENTICATED = "authenticated"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def required_access(opt: dict[str, Any], method: str) -> str:
    """What a route needs: ``"public"``, ``"authenticated"`` or a scope name.

    ``opt={"public": True}`` → public; ``{"authenticated": True}`` → any principal;
    ``{"scope": S}`` → S; nothing → ``read`` for GET/HEAD, ``admin`` for other methods.
    """
    if opt.get("public"):
        return PUBLIC
    scope = opt.get("scope")
    if scope is not None:
        if scope not in SCOPES:
            raise ConfigError(f"route declares unknown scope {scope!r}; one of {sorted(SCOPES)}")
        return str(scope)
    if opt.get("authenticated"):
        return AUTHENTICATED
    # OPTIONS (Litestar's automatic handlers) tells only the allowed methods: as for a read.
    return "read" if method.upper() in ("GET", "HEAD", "OPTIONS") else "admin"


def safe_next(raw: str | None, default: str = "/") -> str:
    """``raw`` when it is a path on this site (no scheme, host, ``//`` or backslash), else
    ``default``: the login redirects only there (no open redirect)."""
    if not raw or len(raw) > 2000 or not raw.startswith("/") or raw.startswith("//"):
        return default
    if "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return default
    return raw


def login_url(next_path: str) -> str:
    """``/login?next=<path>`` (the path quoted)."""
    target = safe_next(next_path, default="")
    return f"/login?next={quote(target, safe='/')}" if target else "/login"


def _ctx(connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    return connection.app.state.ctx


def identify(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller: a bearer token (a bad one is a 401, never a fall-back to the cookie), else
    a live session of an active user, else None."""
    ctx = _ctx(connection)
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        principal = principal_for_token(ctx.db, value.strip())
        if principal is None:
            raise Unauthorized("invalid, expired or revoked API token")
        return principal
    cookie = connection.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    store = SessionStore(ctx.redis, ctx.settings)
    try:
        sess = store.get(cookie)
        if sess is None:
            return None
        role = active_role(ctx.db, sess.user)
        if role is None:  # disabled or removed: the session ends here
            store.delete(cookie)
            return None
    except redis.RedisError as exc:
        raise TransientError("the session store (Redis) does not answer", detail=str(exc)) from exc
    return Principal(
        name=sess.user, role=role, scopes=role_scopes(role), via="session",
        csrf_token=sess.csrf_token,
    )  # fmt: skip


async def _check_csrf(connection: ASGIConnection[Any, Any, Any, Any], expected: str) -> None:
    sent = connection.headers.get(CSRF_HEADER)
    if not sent and isinstance(connection, Request):
        ctype = connection.headers.get("content-type", "")
        if ctype.startswith(_FORM_TYPES):
            value = (await connection.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            "missing or wrong CSRF token: send the session's token in the X-CSRF-Token header"
            " or the _csrf form field (GET /api/v1/me shows it)"
        )


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler
) -> None:
    """Enforce the access contract for one request (installed as an app-level guard)."""
    method = str(connection.scope.get("method", "GET")).upper()
    need = required_access(route_handler.opt, method)
    connection.scope.setdefault("user", None)
    if need == PUBLIC:
        return
    if need == "metrics" and _ctx(connection).settings.auth.public_metrics:
        return
    principal = identify(connection)
    if principal is None:
        raise Unauthorized("log in, or send 'Authorization: Bearer <API token>'")
    connection.scope["user"] = principal
    if need != AUTHENTICATED and not principal.has(need):
        raise Forbidden(f"this needs the {need!r} scope, which {principal.name} does not have")
    if principal.via == "session" and method not in SAFE_METHODS:
        await _check_csrf(connection, principal.csrf_token or "")


def _is_api(request: Request[Any, Any, Any]) -> bool:
    path = request.scope.get("path", "")
    return path.startswith("/api/") or path in ("/metrics", "/healthz", "/api")


def _json(exc: ApplianceError, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        exc.as_dict(), status_code=exc.http_status, media_type=MediaType.JSON, headers=headers
    )


def unauthorized_handler(request: Request[Any, Any, Any], exc: Unauthorized) -> Response[Any]:
    """401 JSON for the API; for pages a 303 to the login page (htmx: ``HX-Redirect``)."""
    if _is_api(request):
        return _json(exc, {"WWW-Authenticate": 'Bearer realm="appliance"'})
    path = request.scope.get("path", "/")
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = login_url(f"{path}?{query}" if query else path)
    if request.headers.get("hx-request"):
        return Response("", status_code=401, headers={"HX-Redirect": target})
    return Redirect(path=target, status_code=303)


_FORBIDDEN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Not allowed</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>Not allowed</h1><p>{message}</p><p><a href="/">Back</a></p></main></body></html>
"""


def forbidden_handler(request: Request[Any, Any, Any], exc: Forbidden) -> Response[Any]:
    """403 JSON for the API, a short HTML page for pages."""
    if _is_api(request):
        return _json(exc)
    from html import escape

    page = _FORBIDDEN_PAGE.format(message=escape(exc.message))
    return Response(page, status_code=403, media_type=MediaType.HTML)


def too_many_handler(request: Request[Any, Any, Any], exc: TooManyRequests) -> Response[Any]:
    """429 JSON with ``Retry-After``."""
    return _json(exc, {"Retry-After": str(max(1, exc.retry_after))})


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    Unauthorized: unauthorized_handler,
    Forbidden: forbidden_handler,
    TooManyRequests: too_many_handler,
}
