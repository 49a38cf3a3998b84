"""The vLLM server started by ``appliance.llm_server`` with the bundled model (real server).

The session fixture ``vllm_server`` (tests/conftest.py) starts the server with
``start_background`` + ``wait_healthy`` unless ``APPLIANCE_TEST_LLM_URL`` names a running one.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from appliance.extract import grounding
from appliance.llm_server import health
from tests.helpers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.llm]

MAIL = (
    "Hello,\n\nwe can offer 500 pcs of galvanized nails 50 mm (SKU GN-50) at 0.12 USD per piece, "
    "delivery within 14 days, FOB Shanghai. Offer valid until 2025-12-31.\n\n"
    "Best regards,\nLi Wei, Ningbo Hardware Co., Ltd.\nliwei@ningbo-hw.example"
)


@pytest.fixture(scope="module")
def server(vllm_server: str) -> str:
    """The session's server (tests/conftest.py), itself started by ``start_background``."""
    return vllm_server


SCHEMA = grounding.schema(grounding.build(MAIL, "Offer: galvanized nails"))


def _validate(obj: Any) -> None:
    import jsonschema

    jsonschema.validate(obj, SCHEMA)
    assert obj["i"], obj  # a priced offer: at least one item (minItems)


def test_health(server: str) -> None:
    assert health(server)
    assert health(server.removesuffix("/v1"))
    assert not health(f"http://127.0.0.1:{free_port()}", timeout=0.5)


def _bounded(node: Any) -> Any:
    """Give every JSON number a ``maximum``: xgrammar then bounds its digits (else a small model
    may write ``1500000…`` until ``max_tokens``)."""
    if isinstance(node, dict):
        out = {k: _bounded(v) for k, v in node.items()}
        if out.get("type") == "number" and "maximum" not in out:
            out["maximum"] = 1e9
        return out
    if isinstance(node, list):
        return [_bounded(v) for v in node]
    return node


def test_constrained_completion_is_schema_valid(server: str) -> None:
    # The mail's grounded schema: every value an enum of the mail's strings; the test is about
    # the server enforcing it.
    schema = _bounded(copy.deepcopy(SCHEMA))
    body = {
        "model": "smollm2-135m-instruct",
        "messages": [
            {"role": "system", "content": "Extract the supplier offer from the e-mail as JSON."},
            {"role": "user", "content": MAIL},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "offer", "schema": schema, "strict": True},
        },
        "temperature": 0,
        "max_tokens": 1024,
        "logprobs": True,
        "top_logprobs": 1,
    }
    resp = httpx.post(f"{server}/chat/completions", json=body, timeout=900)
    assert resp.status_code == 200, resp.text
    choice = resp.json()["choices"][0]
    content = choice["message"]["content"]
    assert choice["finish_reason"] == "stop", content
    _validate(json.loads(content))
    # Per-token logprobs come back with structured output and spell out the content (plus the
    # final end-of-turn token, which the content leaves out).
    entries = choice["logprobs"]["content"]
    assert all("logprob" in e for e in entries)
    assert bytes(b for e in entries for b in e["bytes"]).decode().startswith(content)


def test_runtime_lora_endpoint_is_routed(server: str) -> None:
    root = server.removesuffix("/v1")
    resp = httpx.post(
        f"{root}/v1/load_lora_adapter",
        json={"lora_name": "absent", "lora_path": "/nonexistent/adapter"},
        timeout=60,
    )
    assert 400 <= resp.status_code < 500, resp.text
