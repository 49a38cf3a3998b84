"""The vLLM command line and environment built from the settings (no server started)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from appliance.errors import ModelMissing
from appliance.llm_server import cpu_dtype, server_command, server_env, start_background
from appliance.settings import load_settings
from tests.helpers import TEST_MODEL


def _arg(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_command_defaults() -> None:
    s = load_settings(env={})
    cmd = server_command(s)
    assert cmd[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    assert _arg(cmd, "--model") == str(s.model_dir)
    assert _arg(cmd, "--served-model-name") == TEST_MODEL  # the test session's default
    assert _arg(cmd, "--host") == "127.0.0.1"
    assert _arg(cmd, "--port") == "8000"
    assert "--enable-lora" in cmd
    assert _arg(cmd, "--max-lora-rank") == "16"
    assert _arg(cmd, "--max-loras") == "2"
    assert _arg(cmd, "--max-model-len") == "4096"
    assert _arg(cmd, "--max-num-seqs") == "16"
    assert json.loads(_arg(cmd, "--structured-outputs-config")) == {
        "backend": "xgrammar",
        "disable_any_whitespace": True,
    }
    assert "--enforce-eager" in cmd
    assert "--lora-modules" not in cmd
    assert _arg(cmd, "--dtype") == cpu_dtype()


def test_cpu_dtype(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("flags\t\t: fpu sse2 avx2 fma\n")
    assert cpu_dtype(info) == "float32"
    info.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_dtype(info) == "bfloat16"
    assert cpu_dtype(tmp_path / "absent") == "float32"


def test_command_adapter_gpu_and_extra_args() -> None:
    s = load_settings(
        env={
            "APPLIANCE_LLM__ADAPTER": "nails-v2",
            "APPLIANCE_LLM__MODEL_PATH": "/srv/models/base",
            "APPLIANCE_LLM__SERVER__DEVICE": "gpu",
            "APPLIANCE_LLM__SERVER__PORT": "8123",
            "APPLIANCE_LLM__SERVER__EXTRA_ARGS": '["--gpu-memory-utilization", "0.85"]',
        }
    )
    cmd = server_command(s)
    assert _arg(cmd, "--model") == "/srv/models/base"
    assert _arg(cmd, "--port") == "8123"
    name, path = _arg(cmd, "--lora-modules").split("=", 1)
    assert name == "nails-v2"
    assert Path(path).parts[-2:] == ("adapters", "nails-v2")
    assert "--enforce-eager" not in cmd
    assert _arg(cmd, "--dtype") == "auto"
    assert cmd[-2:] == ["--gpu-memory-utilization", "0.85"]


def test_env_cpu() -> None:
    s = load_settings(env={"APPLIANCE_LLM__SERVER__KV_CACHE_GB": "3"})
    env = server_env(s, base={"PATH": "/usr/bin"})
    assert env["PATH"] == "/usr/bin"
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "3"
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "VLLM_NO_USAGE_STATS", "DO_NOT_TRACK"):
        assert env[key] == "1"


def test_env_gpu_has_no_cpu_settings() -> None:
    s = load_settings(env={"APPLIANCE_LLM__SERVER__DEVICE": "gpu"})
    env = server_env(s, base={})
    assert "VLLM_CPU_KVCACHE_SPACE" not in env
    assert "VLLM_CPU_OMP_THREADS_BIND" not in env


def test_start_without_model_says_what_to_do(tmp_path: Path) -> None:
    s = load_settings(env={"APPLIANCE_LLM__MODEL_PATH": str(tmp_path / "absent")})
    with pytest.raises(ModelMissing, match="appliance models fetch"):
        start_background(s, tmp_path / "vllm.log")
