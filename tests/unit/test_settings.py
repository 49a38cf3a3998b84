"""Settings: defaults, TOML file, ``APPLIANCE_*`` overrides, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import ConfigError
from appliance.settings import load_settings, profiles


def test_file_then_env_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('[llm]\nmodel = "m1"\nconcurrency = 3\n[[accounts]]\nname = "sales"\n')
    env = {
        "APPLIANCE_LLM__MODEL": "m2",
        "APPLIANCE_LLM__SERVER__PORT": "8123",
        "APPLIANCE_SALES_PASSWORD": "not config",
        "APPLIANCE_TEST_SOMETHING": "ignored",
    }
    s = load_settings(cfg, env=env)
    assert (s.llm.model, s.llm.concurrency, s.llm.server.port) == ("m2", 3, 8123)
    assert s.account("sales").protocol == "imap"


def test_accounts_from_json_env_and_password_sources(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    env = {
        "APPLIANCE_ACCOUNTS": f'[{{"name": "a", "password_file": "{secret}"}},'
        ' {"name": "b", "password_env": "B_PW"}]',
        "B_PW": "other",
    }
    s = load_settings(env=env)
    assert s.account("a").password(env).get_secret_value() == "s3cret"
    assert s.account("b").password(env).get_secret_value() == "other"
    assert "s3cret" not in repr(s.account("a").password(env))


def test_credentials_directory_is_used_for_relative_files(tmp_path: Path) -> None:
    (tmp_path / "sales-password").write_text("cred")
    env = {"APPLIANCE_ACCOUNTS": '[{"name": "s", "password_file": "sales-password"}]',
           "CREDENTIALS_DIRECTORY": str(tmp_path)}  # fmt: skip
    s = load_settings(env=env)
    assert s.account("s").password(env).get_secret_value() == "cred"


@pytest.mark.parametrize(
    "env",
    [{"APPLIANCE_LLM__NO_SUCH_KEY": "1"}, {"APPLIANCE_SERVER__PORT": "not a port"}],
)
def test_bad_values_are_clear_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="invalid configuration"):
        load_settings(env=env)


def test_missing_file_and_missing_password_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})
    s = load_settings(env={"APPLIANCE_ACCOUNTS": '[{"name": "x"}]'})
    with pytest.raises(ConfigError, match="no password"):
        s.account("x").password({})
    with pytest.raises(ConfigError, match="no account"):
        s.account("y")


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "configs" / "appliance.example.toml"
    s = load_settings(example, env={})
    assert s.accounts[0].password_env == "APPLIANCE_SALES_PASSWORD"


@pytest.mark.parametrize("name", profiles())
def test_every_bundled_profile_loads(name: str, tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(f'profile = "{name}"\n[llm]\nconcurrency = 3\n')
    s = load_settings(cfg, env={})
    assert s.llm.concurrency == 3  # the file wins over the profile
    assert s.llm.server.device in ("cpu", "gpu")
    assert s.llm.server.host == "127.0.0.1"


def test_gpu_profile_sets_gpu_flags() -> None:
    from appliance.llm_server import server_command

    s = load_settings(env={"APPLIANCE_PROFILE": "gpu-80gb-2x"})
    cmd = server_command(s)
    assert cmd[cmd.index("--tensor-parallel-size") + 1] == "2"
    assert "--enforce-eager" not in cmd


def test_unknown_profile_and_remote_bind_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        load_settings(env={"APPLIANCE_PROFILE": "tpu"})
    with pytest.raises(ConfigError, match="allow_remote"):
        load_settings(env={"APPLIANCE_LLM__SERVER__HOST": "0.0.0.0"})
    s = load_settings(
        env={
            "APPLIANCE_LLM__SERVER__HOST": "10.0.0.5",
            "APPLIANCE_LLM__SERVER__ALLOW_REMOTE": "true",
        }
    )
    assert s.llm.server.host == "10.0.0.5"
