"""Client-side balancing over several LLM servers (``appliance.extract.balancer``).

The pool's bookkeeping is tested alone; the client's behaviour against two real HTTP servers on
loopback (one answering like vLLM, one failing with 500s or not listening at all).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from appliance.errors import LLMUnavailable
from appliance.extract.balancer import ServerPool, shared_pool
from appliance.extract.llm_client import LLMClient
from appliance.settings import LLMSettings
from tests.helpers import free_port

pytestmark = pytest.mark.timeout(60)

ANSWER = {"supplier": {"name": None, "email": None}, "items": []}


class Backend:
    """A loopback HTTP server with vLLM's ``/health`` and ``/v1/chat/completions``.

    ``healthy`` False: completions answer 500 and ``/health`` 503. ``delay`` holds each
    completion that long (so concurrent requests overlap). Every completion is counted.
    """

    def __init__(self, *, healthy: bool = True, delay: float = 0.0) -> None:
        self.healthy = healthy
        self.delay = delay
        self.completions = 0
        self.health_checks = 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, doc: object) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/health":
                    backend.health_checks += 1
                    self._send(200 if backend.healthy else 503, {})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": "not found"})
                    return
                backend.completions += 1
                if not backend.healthy:
                    self._send(500, {"error": "engine dead"})
                    return
                time.sleep(backend.delay)
                self._send(
                    200,
                    {
                        "model": "m",
                        "choices": [
                            {"finish_reason": "stop", "message": {"content": json.dumps(ANSWER)}}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    made: list[Backend] = []
    yield made
    for b in made:
        b.close()


def _client(urls: list[str], probe_interval_s: float = 60.0, retries: int = 0) -> LLMClient:
    settings = LLMSettings(base_urls=urls, max_retries=retries, probe_interval_s=probe_interval_s)
    return LLMClient(settings, pool=ServerPool(urls, probe_interval_s))


async def _extract_n(client: LLMClient, n: int) -> list[object]:
    messages = [{"role": "user", "content": "x"}]
    try:
        return list(
            await asyncio.gather(
                *(client.complete_json(messages, None, {"type": "object"}) for _ in range(n))
            )
        )
    finally:
        await client.aclose()


# --- the pool alone ------------------------------------------------------------------------


def test_pool_picks_least_outstanding_and_rotates_ties() -> None:
    pool = ServerPool(["http://a/v1", "http://b/v1", "http://c/v1"])
    a, b, c = pool.servers
    first = [pool.acquire() for _ in range(3)]
    assert sorted(s.url for s in first if s) == ["http://a/v1", "http://b/v1", "http://c/v1"]
    pool.release(b)
    assert pool.acquire() is b  # the only one with nothing in flight
    for s in (a, b, c):
        pool.release(s)
    # All idle: successive requests do not all land on the first server.
    picks = Counter()
    for _ in range(6):
        s = pool.acquire()
        assert s is not None
        picks[s.url] += 1
        pool.release(s)
    assert set(picks.values()) == {2}


def test_pool_down_server_gets_no_requests_until_probe_passes() -> None:
    now = [100.0]
    pool = ServerPool(["http://a/v1", "http://b/v1"], probe_interval_s=10, clock=lambda: now[0])
    a, b = pool.servers
    pool.mark_down(a, "connection refused")
    assert all(pool.acquire() is b for _ in range(5))
    assert pool.claim_probes() == []  # not due yet, and b is up
    now[0] += 10
    assert pool.claim_probes() == [a]
    assert pool.claim_probes() == []  # claimed once only
    pool.probe_result(a, False, "refused")
    assert not a.up and a.next_probe_at == 120.0
    now[0] += 10
    assert pool.claim_probes() == [a]
    pool.probe_result(a, True)
    assert a.up and a.last_error is None
    assert pool.acquire() is a  # b has 5 in flight


def test_pool_with_none_up_probes_every_server_at_once() -> None:
    pool = ServerPool(["http://a/v1", "http://b/v1"], probe_interval_s=3600)
    for s in pool.servers:
        pool.mark_down(s, "down")
    assert pool.acquire() is None
    assert pool.claim_probes() == pool.servers


def test_shared_pool_is_one_per_url_list() -> None:
    urls = ["http://x:1/v1", "http://y:2/v1/"]
    assert shared_pool(urls, 5) is shared_pool(["http://x:1/v1", "http://y:2/v1"], 5)
    assert shared_pool(urls, 5) is not shared_pool(urls[:1], 5)


def test_settings_urls_default_to_base_url() -> None:
    assert LLMSettings(base_url="http://h:1/v1/").urls == ["http://h:1/v1"]
    assert LLMSettings(base_urls=["http://a/v1", "http://b/v1"]).urls == [
        "http://a/v1",
        "http://b/v1",
    ]


# --- the client against real HTTP servers ----------------------------------------------------


def test_requests_spread_over_two_servers_by_outstanding(backends: list[Backend]) -> None:
    backends += [Backend(delay=0.3), Backend(delay=0.3)]
    client = _client([b.url for b in backends])
    results = asyncio.run(_extract_n(client, 6))
    assert len(results) == 6
    # All six are in flight together: least-outstanding gives each server three.
    assert [b.completions for b in backends] == [3, 3]


def test_failing_server_is_skipped_and_every_request_succeeds(backends: list[Backend]) -> None:
    good, bad = Backend(), Backend(healthy=False)
    backends += [good, bad]
    client = _client([bad.url, good.url])
    results = asyncio.run(_extract_n(client, 8))
    assert len(results) == 8
    assert bad.completions >= 1  # tried, failed with 500, marked down
    assert good.completions == 8
    assert [s["up"] for s in client.pool.snapshot()] == [False, True]
    assert "HTTP 500" in (client.pool.snapshot()[0]["last_error"] or "")
    # Later requests do not touch it again (the probe interval has not passed).
    before = bad.completions
    asyncio.run(_extract_n(_client_sharing(client), 4))
    assert bad.completions == before and bad.health_checks == 0


def _client_sharing(client: LLMClient) -> LLMClient:
    return LLMClient(client.settings, pool=client.pool)


def test_dead_port_fails_over_and_comes_back_after_health_probe(backends: list[Backend]) -> None:
    good = Backend()
    backends.append(good)
    dead_port = free_port()
    dead = f"http://127.0.0.1:{dead_port}/v1"
    client = _client([dead, good.url], probe_interval_s=0.2)
    assert len(asyncio.run(_extract_n(client, 4))) == 4
    assert client.pool.snapshot()[0]["up"] is False
    # The server comes up on that port: after the probe interval its /health is checked and it
    # takes requests again.
    revived = _BackendOnPort(dead_port)
    try:
        time.sleep(0.3)
        assert len(asyncio.run(_extract_n(_client_sharing(client), 4))) == 4
        assert client.pool.snapshot()[0]["up"] is True
        assert revived.backend.health_checks >= 1 and revived.backend.completions >= 1
    finally:
        revived.close()


class _BackendOnPort:
    """A ``Backend`` bound to a given port (the dead server coming back)."""

    def __init__(self, port: int) -> None:
        b = Backend()
        b.close()
        # Rebind the same handler class on the wanted port.
        handler = b.server.RequestHandlerClass
        b.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        b.thread = threading.Thread(target=b.server.serve_forever, daemon=True)
        b.thread.start()
        self.backend = b

    def close(self) -> None:
        self.backend.close()


def test_no_healthy_server_is_llm_unavailable(backends: list[Backend]) -> None:
    bad = Backend(healthy=False)
    backends.append(bad)
    client = _client([bad.url, f"http://127.0.0.1:{free_port()}/v1"])
    with pytest.raises(LLMUnavailable):
        asyncio.run(_extract_n(client, 1))
    # A second request probes both (none is up) before giving up: no request is sent blind.
    checks = bad.health_checks
    with pytest.raises(LLMUnavailable, match="no LLM server is healthy"):
        asyncio.run(_extract_n(_client_sharing(client), 1))
    assert bad.health_checks == checks + 1


def test_worker_queues_default_to_all_and_refuse_unknown_names() -> None:
    from appliance.errors import ConfigError
    from appliance.settings import load_settings

    assert load_settings(env={}).worker.queues == ["mail", "extract", "outbox"]
    env = {"APPLIANCE_WORKER__QUEUES": '["extract"]'}
    assert load_settings(env=env).worker.queues == ["extract"]
    with pytest.raises(ConfigError):
        load_settings(env={"APPLIANCE_WORKER__QUEUES": '["store"]'})
