"""Security headers on every response: a strict Content-Security-Policy (no inline script or
style, nothing remote), no MIME sniffing, no referrer, no framing by other sites.

A ``srcdoc`` frame inherits the page's policy, so mail HTML shown in the sandboxed frame can
load nothing remote either. The OpenAPI viewer under ``/api/schema`` is left alone (it loads
its own scripts).
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_EXEMPT = ("/api/schema",)


async def security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: add ``SECURITY_HEADERS`` to each HTTP response (not replacing a
    header a handler set itself)."""
    if message["type"] != "http.response.start":
        return
    if str(scope.get("path", "")).startswith(_EXEMPT):
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
