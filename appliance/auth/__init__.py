"""Users, passwords, sessions, CSRF, login throttling and scoped API tokens.

The access contract: every route handler declares what it needs in ``opt``:
``{"public": True}`` (login page, static files, ``/healthz``) or ``{"scope": S}`` with ``S`` in
:data:`SCOPES`; without either, GET/HEAD need ``read`` and any other method ``admin``.
``{"authenticated": True}`` lets in any logged-in principal (``/api/v1/me``, ``/logout``).
The guard (:mod:`appliance.auth.guard`) enforces it for every route and sets ``request.user``
to a :class:`Principal`.

This module stays light (no Litestar, no argon2): route modules import :class:`Principal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# ``intake``: post mails and channel messages into the pipeline (``POST /api/v1/mails``,
# ``/api/v1/messages``), e.g. a web form's or a messenger bridge's token; nothing else.
SCOPES: frozenset[str] = frozenset(
    {"read", "review", "operate", "export", "admin", "metrics", "intake"}
)
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "reviewer": frozenset({"read", "review", "export"}),
    "ml": frozenset({"read", "export"}),
    "admin": SCOPES,
}
ROLES: tuple[str, ...] = tuple(ROLE_SCOPES)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a logged-in user (``via="session"``) or an API token (``"token"``).

    For a token, ``name`` is ``token:<token name>`` and ``role`` is ``"token"``.
    """

    name: str
    role: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    via: Literal["session", "token"] = "session"
    csrf_token: str | None = None

    def has(self, scope: str) -> bool:
        """True when this principal holds ``scope``."""
        return scope in self.scopes


def role_scopes(role: str) -> frozenset[str]:
    """The scopes a user role grants (none for an unknown role)."""
    return ROLE_SCOPES.get(role, frozenset())


__all__ = ["ROLES", "ROLE_SCOPES", "SCOPES", "Principal", "role_scopes"]
