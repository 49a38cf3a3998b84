"""Login sessions and login throttling in Redis.

A session is a random token in the ``sma_session`` cookie; Redis holds, under the sha256 of that
token, the user's name, role and the session's CSRF token, with the session TTL. A set per user
lists their sessions so that disabling a user or changing a password ends them all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

import redis

from appliance.settings import Settings

SESSION_COOKIE = "sma_session"
LOGIN_CSRF_COOKIE = "sma_login_csrf"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """What Redis holds for one session."""

    user: str
    role: str
    csrf_token: str
    created: float


class SessionStore:
    """Sessions under ``<namespace>:auth:session:<sha256(token)>``."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.r = client
        self.ns = f"{settings.redis.namespace}:auth"
        self.ttl_s = max(60, int(settings.auth.session_ttl_h * 3600))

    def _key(self, token: str) -> str:
        return f"{self.ns}:session:{_sha(token)}"

    def _user_key(self, user: str) -> str:
        return f"{self.ns}:user-sessions:{_sha(user)}"

    def create(self, user: str, role: str) -> tuple[str, Session]:
        """A new session for ``user``: (cookie token, session)."""
        token = secrets.token_urlsafe(32)
        sess = Session(
            user=user, role=role, csrf_token=secrets.token_urlsafe(32), created=time.time()
        )
        body = json.dumps(sess.__dict__)
        pipe = self.r.pipeline()
        pipe.set(self._key(token), body, ex=self.ttl_s)
        pipe.sadd(self._user_key(user), _sha(token))
        pipe.expire(self._user_key(user), self.ttl_s)
        pipe.execute()
        return token, sess

    def get(self, token: str) -> Session | None:
        """The live session of a cookie token, or None."""
        if not token or len(token) > 256:
            return None
        raw = self.r.get(self._key(token))
        if raw is None:
            return None
        data = json.loads(raw if isinstance(raw, str | bytes) else str(raw))
        return Session(**data)

    def delete(self, token: str) -> None:
        """End one session (logout)."""
        raw = self.r.get(self._key(token))
        pipe = self.r.pipeline()
        pipe.delete(self._key(token))
        if raw is not None:
            pipe.srem(self._user_key(json.loads(raw)["user"]), _sha(token))
        pipe.execute()

    def delete_user(self, user: str) -> int:
        """End every session of ``user``; returns how many there were."""
        hashes = [
            h.decode() if isinstance(h, bytes) else str(h)
            for h in self.r.smembers(self._user_key(user))
        ]
        pipe = self.r.pipeline()
        for h in hashes:
            pipe.delete(f"{self.ns}:session:{h}")
        pipe.delete(self._user_key(user))
        results = pipe.execute()
        return sum(int(x) for x in results[: len(hashes)])


class LoginThrottle:
    """At most ``login_max_attempts`` failed logins per user name and per client address in
    ``login_window_s`` (a fixed window from the first failure)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.r = client
        self.ns = f"{settings.redis.namespace}:auth:login-fail"
        self.max = settings.auth.login_max_attempts
        self.window = settings.auth.login_window_s

    def _keys(self, user: str, ip: str) -> list[str]:
        return [f"{self.ns}:user:{_sha(user.strip().lower())}", f"{self.ns}:ip:{_sha(ip)}"]

    def blocked_for(self, user: str, ip: str) -> int:
        """Seconds until a login may be tried again; 0 when it may now."""
        wait = 0
        for key in self._keys(user, ip):
            count = self.r.get(key)
            if count is not None and int(count) >= self.max:
                ttl = int(self.r.ttl(key))
                wait = max(wait, ttl if ttl > 0 else self.window)
        return wait

    def failed(self, user: str, ip: str) -> None:
        """Count one failed attempt against the user name and the address."""
        pipe = self.r.pipeline()
        for key in self._keys(user, ip):
            pipe.incr(key)
            pipe.expire(key, self.window, nx=True)
        pipe.execute()

    def succeeded(self, user: str) -> None:
        """Forget the user name's failures (the address's stay: one good account must not
        reset an attacker's count)."""
        self.r.delete(self._keys(user, "")[0])
