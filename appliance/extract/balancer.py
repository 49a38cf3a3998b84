"""Client-side balancing over several vLLM servers: least outstanding requests, health-aware.

No scheduler of our own: each process keeps, per server, how many requests it has in flight
and whether the server is up. A request goes to the healthy server with the fewest in flight
(ties rotate). A connection error, a timeout or a 5xx marks the server down; it gets no
requests until its ``/health`` answers 200 again, probed at most every ``probe_interval_s``
(and at once when no server is up, so a request never fails without a check).

One ``ServerPool`` per process and server list (``shared_pool``): the extract actor builds a
new ``LLMClient`` per mail in its own event loop, so the state lives here, behind a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Upstream:
    """One vLLM server as the balancer sees it."""

    url: str  # the OpenAI base URL, ``http://host:port/v1``
    outstanding: int = 0
    up: bool = True
    probing: bool = False
    next_probe_at: float = 0.0
    failures: int = 0
    last_error: str | None = None

    @property
    def root(self) -> str:
        """``http://host:port`` (where ``/health`` and ``/metrics`` live)."""
        return self.url.rstrip("/").removesuffix("/v1")


class ServerPool:
    """The servers of one URL list with their in-flight counts and health, thread-safe."""

    def __init__(
        self,
        urls: Sequence[str],
        probe_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("ServerPool needs at least one URL")
        self.servers = [Upstream(u.rstrip("/")) for u in urls]
        self.probe_interval_s = probe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._turn = 0

    def acquire(self) -> Upstream | None:
        """The healthy server with the fewest requests in flight (counted in), else ``None``."""
        with self._lock:
            n = len(self.servers)
            order = [self.servers[(self._turn + i) % n] for i in range(n)]
            self._turn = (self._turn + 1) % n
            healthy = [s for s in order if s.up]
            if not healthy:
                return None
            best = min(healthy, key=lambda s: s.outstanding)  # first minimum: rotation breaks ties
            best.outstanding += 1
            return best

    def release(self, server: Upstream) -> None:
        """A request to ``server`` has finished (whatever its outcome)."""
        with self._lock:
            server.outstanding = max(0, server.outstanding - 1)

    def mark_down(self, server: Upstream, error: str) -> None:
        """``server`` failed (connection error, timeout, 5xx): no requests until a probe passes."""
        with self._lock:
            server.up = False
            server.failures += 1
            server.last_error = error
            server.next_probe_at = self._clock() + self.probe_interval_s

    def probe_result(self, server: Upstream, healthy: bool, error: str | None = None) -> None:
        """Record the outcome of a ``/health`` probe claimed with ``claim_probes``."""
        with self._lock:
            server.probing = False
            if healthy:
                server.up = True
                server.last_error = None
            else:
                server.last_error = error or server.last_error
                server.next_probe_at = self._clock() + self.probe_interval_s

    def claim_probes(self) -> list[Upstream]:
        """Down servers this caller should probe now: those whose probe is due, or every one
        not already being probed when no server is up. Each is claimed by one caller only."""
        with self._lock:
            now = self._clock()
            none_up = not any(s.up for s in self.servers)
            due = [
                s
                for s in self.servers
                if not s.up and not s.probing and (none_up or s.next_probe_at <= now)
            ]
            for s in due:
                s.probing = True
            return due

    def healthy(self) -> int:
        """How many servers are up."""
        with self._lock:
            return sum(s.up for s in self.servers)

    def snapshot(self) -> list[dict[str, Any]]:
        """Per server: url, up, outstanding, failures, last_error (for logs and health pages)."""
        with self._lock:
            return [
                {
                    "url": s.url,
                    "up": s.up,
                    "outstanding": s.outstanding,
                    "failures": s.failures,
                    "last_error": s.last_error,
                }
                for s in self.servers
            ]


_pools: dict[tuple[tuple[str, ...], float], ServerPool] = {}
_pools_lock = threading.Lock()


def shared_pool(urls: Sequence[str], probe_interval_s: float = 10.0) -> ServerPool:
    """The process-wide pool of ``urls`` (created on first use), shared by every client."""
    key = (tuple(u.rstrip("/") for u in urls), float(probe_interval_s))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ServerPool(key[0], probe_interval_s)
        return pool
