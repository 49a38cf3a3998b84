"""Client of the vLLM OpenAI-compatible server: schema-constrained chat completions.

Explicit timeouts, bounded retries with backoff on transient failures (connection refused,
timeouts, 5xx), and the checks that turn bad output into errors: ``finish_reason == "length"``
is ``ExtractionTruncated``, unparsable JSON is ``ExtractionInvalid``. Neither is ever stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from appliance.errors import (
    ExtractionInvalid,
    ExtractionTruncated,
    LLMTimeout,
    LLMUnavailable,
    TransientError,
)
from appliance.extract.contract import llm_json_schema
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


class LLMClient:
    """Async client for one vLLM server; share one instance per process (connection pool)."""

    def __init__(self, settings: LLMSettings, *, base_url: str | None = None) -> None:
        self.settings = settings
        self.base_url = (base_url or settings.base_url).rstrip("/")
        self.schema = llm_json_schema()
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=max(settings.concurrency * 2, 4)),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def payload(self, messages: list[dict[str, str]], model: str | None = None) -> dict[str, Any]:
        s = self.settings
        return {
            "model": model or s.served_model,
            "messages": messages,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "offer", "schema": self.schema, "strict": True},
            },
        }

    async def _post_once(self, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        try:
            resp = await self._http.post(url, json=body)
        except httpx.TimeoutException as exc:
            raise LLMTimeout(
                f"LLM server did not answer within {self.settings.timeout_s}s"
            ) from exc
        except httpx.TransportError as exc:
            raise LLMUnavailable(f"LLM server unreachable at {self.base_url}: {exc}") from exc
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
        self, messages: list[dict[str, str]], model: str | None = None
    ) -> Completion:
        """One constrained completion, parsed; retries transient failures with backoff."""
        body = self.payload(messages, model)
        attempt = 0
        while True:
            start = time.perf_counter()
            try:
                result = await self._post_once(body)
                break
            except TransientError as exc:
                attempt += 1
                if attempt > self.settings.max_retries:
                    raise
                delay = min(2.0**attempt, 30.0)
                log.warning("LLM call failed (%s); retry %d in %.0fs", exc.message, attempt, delay)
                await asyncio.sleep(delay)
        elapsed = (time.perf_counter() - start) * 1000
        choice = result["choices"][0]
        content = choice["message"].get("content") or ""
        usage = result.get("usage") or {}
        if choice.get("finish_reason") == "length":
            raise ExtractionTruncated(
                f"model output cut at max_tokens={self.settings.max_tokens}",
                detail=content[-300:],
            )
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise ExtractionInvalid("model output is not valid JSON", detail=content[:500]) from exc
        details = usage.get("prompt_tokens_details") or {}
        return Completion(
            data=data,
            model=str(result.get("model", body["model"])),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int(details.get("cached_tokens") or 0),
            elapsed_ms=elapsed,
        )
