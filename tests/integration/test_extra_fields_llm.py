"""A configured extra field through the real model: ``[[extraction.fields]]`` → the grounded
schema and prompt → the default model's answer → the contract → the store → the API, the
dashboard and the CSV export (the unit test ``test_extra_fields`` covers the same path with a
given answer; here the model gives it)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from appliance.extract.extractor import extract_offer
from appliance.extract.llm_client import LLMClient
from appliance.settings import Settings
from tests.helpers import PRODUCT_DEFAULT_MODEL
from tests.unit.test_extra_fields import (  # noqa: F401 - fixtures
    BODY,
    _mail,
    _offer_id,
    client,
    db,
    make_settings,
    store_extraction,
)

pytestmark = [pytest.mark.integration, pytest.mark.llm]


@pytest.fixture
def settings(tmp_path: Path, vllm_product_server: str) -> Settings:
    return make_settings(
        tmp_path, llm={"base_url": vllm_product_server, "model": PRODUCT_DEFAULT_MODEL}
    )


def test_an_extra_field_is_extracted_by_the_model_and_served(
    db: Any,  # noqa: F811
    settings: Settings,
    client: Any,  # noqa: F811
) -> None:
    raw = _mail(1, BODY, "Offer: boxes")

    async def run() -> Any:
        llm = LLMClient(settings.llm)
        try:
            return await extract_offer(raw, settings, llm)
        finally:
            await llm.aclose()

    ex = asyncio.run(run())
    assert ex.completion.completion_tokens > 0  # the model was asked
    (item,) = ex.offer.items
    assert "box" in item.product_name.lower()
    assert item.extra == {"color": "red", "warranty_months": 24}, ex.completion

    mail_id = store_extraction(db, settings, 1, raw, ex.offer.model_dump(mode="json"))
    offer_id = _offer_id(db, mail_id)
    got = client.get(f"/api/v1/offers/{offer_id}").json()
    assert got["items"][0]["extra"] == {"color": "red", "warranty_months": 24}
    html = client.get(f"/offers/{offer_id}").text
    assert "<td>Colour</td>" in html and 'value="red"' in html and 'value="24"' in html
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/export/items").text)))
    assert (rows[0]["extra_color"], rows[0]["extra_warranty_months"]) == ("red", "24")
