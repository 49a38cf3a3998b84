"""Real processes for integration tests: a private Redis and the appliance's server and worker."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.helpers import free_port


class RedisServer:
    """``redis-server`` on a free loopback port, nothing on disk."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        """Start ``redis-server`` (again, after ``stop``: empty, on the same port)."""
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for("redis", self.ping, 20)

    def ping(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def wait_for(what: str, ok: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``ok()`` until it returns something truthy; fail the test with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, OSError, KeyError):
            last = ok()
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Appliance:
    """``appliance server`` and ``appliance worker`` as child processes, configured by env."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = {
            **os.environ,
            "APPLIANCE_PATHS__DATA_DIR": str(workdir / "data"),
            "APPLIANCE_SERVER__PORT": str(self.port),
            "APPLIANCE_SERVER__POLL_INTERVAL_S": "2",
            "APPLIANCE_WORKER__METRICS_PORT": str(free_port()),
            "APPLIANCE_WORKER__THREADS": "4",
            **env,
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # An API token with every scope, made by the CLI before the server first starts.
        self.token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>`` for direct httpx calls to the API."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def create_token(self, name: str, *scopes: str) -> str:
        """A new API token through ``appliance tokens create`` (the server must be stopped)."""
        args = [a for s in scopes for a in ("--scope", s)]
        out = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "tokens", "create", name, *args],
            env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout.strip()

    def start(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        if name == "server" and self.token is None:
            from appliance.auth import SCOPES

            self.token = self.create_token("tests", *sorted(SCOPES))
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed by the child's exit
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", name],
            env={**self.env, **(extra_env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        if name == "server":
            # /healthz is public and answers 200 or 503 (a dependency down) once the app
            # serves; a token is not needed (after a database recovery the old one is gone).
            wait_for(
                "the API",
                lambda: httpx.get(f"{self.url}/healthz", timeout=10).status_code in (200, 503),
                60,
            )

    def stop(self, name: str, *, kill: bool = False) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            proc.kill() if kill else proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:  # a worker waiting for a slow LLM call
                proc.kill()
                proc.wait(30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.url}{path}", params=params, headers=self.headers, timeout=10)
        r.raise_for_status()
        return r.json()

    def post(self, path: str) -> Any:
        r = httpx.post(f"{self.url}{path}", headers=self.headers, timeout=10)
        r.raise_for_status()
        return r.json()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any request (a JSON body, a file download), returned as it is (no status check);
        sends the same credentials as ``get``/``post``."""
        headers = {**getattr(self, "headers", {}), **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


@contextlib.contextmanager
def running(app: Appliance, *services: Any, tail: int = 3000) -> Iterator[Appliance]:
    """``app``'s server and worker started; on leaving, both stopped, then each of
    ``services`` (``.stop()``: the Redis server), and their logs' last ``tail`` characters
    printed (pytest shows them with a failing test)."""
    try:
        app.start("server")
        app.start("worker")
        yield app
    finally:
        app.stop_all()
        for service in services:
            service.stop()
        for name in ("server", "worker"):
            print(f"--- {name} log (tail) ---\n{app.log(name)[-tail:]}")


def account_env(account: Any, password_env: str, password: str) -> dict[str, str]:
    """The ``APPLIANCE_ACCOUNTS`` variable (JSON) for one account plus its password variable."""
    acc = account.model_dump(mode="json", exclude_none=True)
    acc["password_env"] = password_env
    return {"APPLIANCE_ACCOUNTS": json.dumps([acc]), password_env: password}
