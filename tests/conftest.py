"""Session-wide fixtures: the vLLM server with the bundled model, shared by every test file."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers import PRODUCT_DEFAULT_MODEL, TEST_MODEL, running_vllm, use_test_model

# The tests serve the fast SmolLM2-135M, not the product default (APPLIANCE_TEST_MODEL: another).
use_test_model()


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of a vLLM server serving the bundled model.

    ``APPLIANCE_TEST_LLM_URL`` reuses a server that is already running (fast local iteration).
    Otherwise one is started on a free port for the session (about a minute on 2 cores) and
    stopped at the end. Without the provisioned model the tests skip, except under CI (fail).
    """
    from appliance.llm_server import health

    url = os.environ.get("APPLIANCE_TEST_LLM_URL", "").rstrip("/")
    if url:
        url = url if url.endswith("/v1") else url + "/v1"
        if not health(url, timeout=5.0):
            pytest.fail(f"APPLIANCE_TEST_LLM_URL={url} does not answer /health", pytrace=False)
        yield url
        return
    with running_vllm(tmp_path_factory.mktemp("vllm")) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def vllm_product_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of a vLLM server serving the product's default model (Qwen2.5-Coder-0.5B), served
    under its own name (``helpers.PRODUCT_DEFAULT_MODEL``): for tests whose subject is extraction
    quality. Their clients must ask for that model (``APPLIANCE_LLM__MODEL``), since the session's
    default is the fast test model. When that is the product default already
    (``APPLIANCE_TEST_MODEL``), this is the ``vllm_server``.
    """
    if TEST_MODEL == PRODUCT_DEFAULT_MODEL:
        yield request.getfixturevalue("vllm_server")
        return
    with running_vllm(tmp_path_factory.mktemp("vllm-product"), PRODUCT_DEFAULT_MODEL) as url:
        yield url
