"""Per-value confidence on the live model: the vLLM server's token log-probabilities become a
confidence for each value (``extract.confidence``), the worker carries it to the server, the
server stores it with the value's provenance and ``GET /api/v1/offers/{id}`` serves it; values
below ``review.min_confidence`` are review reasons."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.extract.confidence import leaf_values
from appliance.extract.extractor import Extraction, extract_offer
from appliance.extract.llm_client import LLMClient
from appliance.settings import Settings
from tests.integration.services import Appliance, RedisServer, running, wait_for

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "01-en-nails.eml"

pytestmark = [pytest.mark.integration, pytest.mark.llm]


def _extract(base_url: str) -> Extraction:
    settings = Settings()

    async def run() -> Extraction:
        client = LLMClient(settings.llm, base_url=base_url)
        try:
            return await extract_offer(SAMPLE.read_bytes(), settings, client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_a_real_extraction_has_a_confidence_for_each_value(vllm_server: str) -> None:
    ex = _extract(vllm_server)
    given = leaf_values(ex.completion.data)  # what the model wrote, nulls left out
    assert given and set(ex.completion.confidence) == set(given)
    assert all(0 < c <= 1 for c in ex.completion.confidence.values())
    # After normalisation and the evidence check: only values still present keep one.
    present = leaf_values(ex.offer.model_dump())
    assert ex.confidence and set(ex.confidence) <= set(present)
    assert all(f"items[{i}].product_name" in ex.confidence for i in range(len(ex.offer.items)))
    assert all(0 < c <= 1 for c in ex.confidence.values())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, vllm_server: str) -> Iterator[Appliance]:
    work = tmp_path_factory.mktemp("appliance")
    redis = RedisServer(work)
    appliance = Appliance(
        work, {"APPLIANCE_REDIS__URL": redis.url, "APPLIANCE_LLM__BASE_URL": vllm_server}
    )
    with running(appliance, redis):
        yield appliance


def test_confidences_are_stored_and_served_with_the_provenance(app: Appliance) -> None:
    subprocess.run([sys.executable, "-m", "appliance.cli", "import", str(SAMPLE)],
                   env=app.env, check=True, capture_output=True)  # fmt: skip

    def offer_id() -> int | None:
        page = app.get("/api/v1/offers")
        return int(page["items"][0]["id"]) if page["total"] else None

    offer = app.get(f"/api/v1/offers/{wait_for('the offer', offer_id, 600)}")
    llm = [p for p in offer["provenance"] if p["source"] == "llm" and p["current"]]
    assert llm and all(p["confidence"] is None or 0 < p["confidence"] <= 1 for p in llm)
    names = [p for p in llm if p["field"] == "product_name"]
    assert len(names) == len(offer["items"]) and all(p["confidence"] for p in names)
    served = {
        (f"items[{p['item']}].{p['field']}" if p["item"] is not None else p["field"]): p
        for p in llm
        if p["confidence"] is not None
    }
    assert offer["confidence"] == {k: p["confidence"] for k, p in served.items()}
    # Every value below the (default) threshold is a review reason of the offer.
    threshold = Settings().review.min_confidence
    reasons = "\n".join(offer["review_reasons"])
    for path, p in served.items():
        if p["confidence"] < threshold:
            assert f"low confidence: {path} = " in reasons, offer["review_reasons"]
            assert offer["state"] == "needs_review"
