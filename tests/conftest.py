"""Session-wide fixtures: the vLLM server with the bundled model, shared by every test file."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers import running_vllm


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
