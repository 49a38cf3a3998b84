"""Small helpers shared by the test suites."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import appliance.settings as _settings

# The product's default model, and the model the test session serves instead: the fast
# SmolLM2-135M unless APPLIANCE_TEST_MODEL names another provisioned model (e.g.
# qwen2.5-coder-0.5b-instruct, the product default, to measure extraction quality).
PRODUCT_DEFAULT_MODEL = _settings.DEFAULT_MODEL
TEST_MODEL = os.environ.get("APPLIANCE_TEST_MODEL", "smollm2-135m-instruct")


def use_test_model() -> None:
    """Make TEST_MODEL the default of this process and of the processes it starts."""
    _settings.DEFAULT_MODEL = TEST_MODEL
    os.environ.setdefault("APPLIANCE_LLM__MODEL", TEST_MODEL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to something true."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (API server, engine core, workers), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.contextmanager
def running_vllm(log_dir: Path, model: str | None = None) -> Iterator[str]:
    """Start vLLM with ``model`` (default: the test model) on a free port; yield
    ``http://127.0.0.1:PORT/v1``.

    Skips the test when the model is not provisioned, except under CI, where that fails.
    A server that dies or does not come up fails the test with the tail of its log.
    """
    from appliance.errors import LLMUnavailable
    from appliance.llm_server import start_background, wait_healthy
    from appliance.settings import load_settings

    settings = load_settings(env={})
    if model is not None:
        settings.llm.model = model
    srv = settings.llm.server
    srv.host, srv.port = "127.0.0.1", free_port()
    srv.kv_cache_gb, srv.max_num_seqs = 2, 8
    if not (settings.model_dir / "config.json").is_file():
        msg = (
            f"model not provisioned in {settings.model_dir}: run `appliance models fetch "
            f"{settings.llm.model}` "
            "(or set APPLIANCE_TEST_LLM_URL to a running vLLM server)"
        )
        if in_ci():
            pytest.fail(msg + " (CI is set, so this is an error)", pytrace=False)
        pytest.skip(msg)
    log_path = log_dir / "vllm.log"
    proc = start_background(settings, log_path)
    try:
        try:
            wait_healthy(settings, proc, srv.startup_timeout_s, log_path=log_path)
        except LLMUnavailable as exc:
            pytest.fail(f"{exc.message}\n--- vLLM log tail ---\n{exc.detail}", pytrace=False)
        yield f"http://127.0.0.1:{srv.port}/v1"
    finally:
        _stop(proc)
