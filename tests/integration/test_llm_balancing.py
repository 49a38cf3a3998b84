"""Several LLM servers on real components: the real vLLM plus a dead port; nothing fails."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from appliance.extract.balancer import shared_pool
from appliance.extract.batch import extract_many, iter_mail_files
from appliance.settings import load_settings
from tests.helpers import free_port

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

pytestmark = [pytest.mark.integration, pytest.mark.llm, pytest.mark.timeout(900)]


def test_extractions_succeed_with_one_server_dead(vllm_server: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = load_settings(env={})
    # The dead one first: the first requests go there, fail to connect and fail over.
    settings.llm.base_urls = [dead, vllm_server]
    settings.llm.max_retries = 0  # no backoff retries: only the fail-over can save a request
    files = list(iter_mail_files(sorted(SAMPLES.glob("0[1-4]*.eml"))))
    assert len(files) == 4

    async def run() -> list[dict[str, Any]]:
        return [line async for line in extract_many(files, settings, concurrency=4)]

    lines = asyncio.run(run())
    assert [line.get("error") for line in lines] == [None] * 4
    assert all(line["result"]["items"] is not None for line in lines)
    pool = shared_pool(settings.llm.urls, settings.llm.probe_interval_s)
    state = {s["url"]: s for s in pool.snapshot()}
    assert state[dead]["up"] is False and state[dead]["failures"] >= 1
    assert state[vllm_server]["up"] is True and state[vllm_server]["outstanding"] == 0
