"""Client of the vLLM OpenAI-compatible server(s): schema-constrained chat completions.

Several servers (``llm.base_urls``) are balanced client-side by ``extract.balancer``: the
healthy one with the fewest requests in flight; one that fails is skipped until its /health
answers again, and the request fails over to another at once.

Explicit timeouts, bounded retries with backoff on transient failures (connection refused,
timeouts, 5xx), and the checks that turn bad output into errors: ``finish_reason == "length"``
is ``ExtractionTruncated``, unparsable JSON is ``ExtractionInvalid``. Neither is ever stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from appliance import metrics
from appliance.errors import (
    ExtractionInvalid,
    ExtractionTruncated,
    LLMTimeout,
    LLMUnavailable,
    TransientError,
)
from appliance.extract.balancer import ServerPool, Upstream, shared_pool
from appliance.extract.confidence import tokens_of, value_confidence
from appliance.settings import LLMSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    data: dict[str, Any]
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    elapsed_ms: float
    # Leaf path of the model's JSON ("items[0].unit_price") → confidence in (0, 1], from the
    # tokens' log-probabilities (``extract.confidence``); empty when the server gave none.
    confidence: dict[str, float] = field(default_factory=dict)


class LLMClient:
    """Async client for the vLLM server(s); share one instance per event loop (connection
    pool). Health and in-flight counts are shared per process (``balancer.shared_pool``)."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        base_url: str | None = None,
        pool: ServerPool | None = None,
    ) -> None:
        self.settings = settings
        urls = [base_url.rstrip("/")] if base_url else settings.urls
        self.pool = pool or shared_pool(urls, settings.probe_interval_s)
        self.base_url = self.pool.servers[0].url
        per_server = max(settings.concurrency * 2, 4)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=per_server * len(self.pool.servers)),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def payload(
        self, messages: list[dict[str, str]], model: str | None, schema: dict[str, Any]
    ) -> dict[str, Any]:
        """The request body: ``messages`` answered under ``schema`` (this mail's grounded
        schema, ``extract.grounding.schema``) by ``model`` (default: the served model)."""
        s = self.settings
        return {
            "model": model or s.served_model,
            "messages": messages,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            # The chosen tokens' log-probabilities (no alternatives): per-value confidence.
            "logprobs": True,
            "top_logprobs": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "offer", "schema": schema, "strict": True},
            },
        }

    async def _probe(self, server: Upstream) -> None:
        """Check a down server's ``/health`` and record the outcome in the pool."""
        try:
            r = await self._http.get(f"{server.root}/health", timeout=3.0)
            ok, err = r.status_code == 200, f"/health answered HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            ok, err = False, f"/health: {exc or type(exc).__name__}"
        self.pool.probe_result(server, ok, None if ok else err)
        if ok:
            log.info("LLM server %s is healthy again", server.url)

    async def _pick(self) -> Upstream:
        """Probe the down servers that are due, then take the least busy healthy one."""
        for server in self.pool.claim_probes():
            await self._probe(server)
        chosen = self.pool.acquire()
        if chosen is None:
            down = "; ".join(f"{s['url']}: {s['last_error']}" for s in self.pool.snapshot())
            raise LLMUnavailable("no LLM server is healthy", detail=down[:500])
        return chosen

    async def _post_once(self, body: dict[str, Any]) -> dict[str, Any]:
        server = await self._pick()
        try:
            return await self._post_to(server, body)
        finally:
            self.pool.release(server)

    async def _post_to(self, server: Upstream, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{server.url}/chat/completions"
        try:
            resp = await self._http.post(url, json=body)
        except httpx.TimeoutException as exc:
            self.pool.mark_down(server, f"timeout: {type(exc).__name__}")
            raise LLMTimeout(
                f"LLM server {server.url} did not answer within {self.settings.timeout_s}s"
            ) from exc
        except httpx.TransportError as exc:
            self.pool.mark_down(server, str(exc) or type(exc).__name__)
            raise LLMUnavailable(f"LLM server unreachable at {server.url}: {exc}") from exc
        if resp.status_code >= 500:
            self.pool.mark_down(server, f"HTTP {resp.status_code}")
        if resp.status_code >= 500 or resp.status_code in (404, 429):
            # 404: the model/adapter is not (yet) loaded; 429/5xx: overload or crash.
            raise LLMUnavailable(
                f"LLM server answered HTTP {resp.status_code}", detail=resp.text[:500]
            )
        if resp.status_code >= 400:
            raise ExtractionInvalid(
                f"LLM server refused the request (HTTP {resp.status_code})", detail=resp.text[:500]
            )
        result: dict[str, Any] = resp.json()
        return result

    async def complete_json(
        self, messages: list[dict[str, str]], model: str | None, schema: dict[str, Any]
    ) -> Completion:
        """One completion constrained by ``schema``, parsed; retries transient failures with
        backoff."""
        body = self.payload(messages, model, schema)
        attempt = failovers = 0
        while True:
            start = time.perf_counter()
            try:
                result = await self._post_once(body)
                break
            except ExtractionInvalid as exc:  # the server refused the request (HTTP 4xx)
                metrics.LLM_REQUESTS.labels(exc.code).inc()
                raise
            except TransientError as exc:
                metrics.LLM_REQUESTS.labels(exc.code).inc()
                if failovers < len(self.pool.servers) - 1 and self.pool.healthy():
                    failovers += 1  # another server is up: go there at once, no backoff
                    log.warning("LLM call failed (%s); trying another server", exc.message)
                    continue
                attempt += 1
                if attempt > self.settings.max_retries:
                    raise
                delay = min(2.0**attempt, 30.0)
                log.warning("LLM call failed (%s); retry %d in %.0fs", exc.message, attempt, delay)
                await asyncio.sleep(delay)
        elapsed = (time.perf_counter() - start) * 1000
        metrics.LLM_SECONDS.observe(elapsed / 1000)
        choice = result["choices"][0]
        content = choice["message"].get("content") or ""
        usage = result.get("usage") or {}
        if choice.get("finish_reason") == "length":
            metrics.LLM_REQUESTS.labels(ExtractionTruncated.code).inc()
            raise ExtractionTruncated(
                f"model output cut at max_tokens={self.settings.max_tokens}",
                detail=content[-300:],
            )
        try:
            data = json.loads(content)
        except ValueError as exc:
            metrics.LLM_REQUESTS.labels(ExtractionInvalid.code).inc()
            raise ExtractionInvalid("model output is not valid JSON", detail=content[:500]) from exc
        metrics.LLM_REQUESTS.labels("ok").inc()
        details = usage.get("prompt_tokens_details") or {}
        token_lps = (choice.get("logprobs") or {}).get("content") or []
        return Completion(
            data=data,
            model=str(result.get("model", body["model"])),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int(details.get("cached_tokens") or 0),
            elapsed_ms=elapsed,
            confidence=value_confidence(content, tokens_of(token_lps)),
        )
