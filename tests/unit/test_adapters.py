"""The adapter registry without a vLLM server: file checks, the promotion gate, the active name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance import adapters
from appliance.errors import ConfigError, NotFound
from appliance.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(paths={"models_dir": tmp_path / "models", "data_dir": tmp_path / "var"})


def _adapter(settings: Settings, name: str, scores: dict | None = None) -> Path:
    d = adapters.adapters_dir(settings) / name
    d.mkdir(parents=True)
    (d / "adapter_model.safetensors").write_bytes(b"x")
    (d / "adapter_config.json").write_text("{}")
    (d / "manifest.json").write_text(json.dumps({"name": name, "scores": scores or {}}))
    return d


def test_manifest_requires_safetensors_only(settings: Settings) -> None:
    d = _adapter(settings, "a")
    assert adapters.manifest(settings, "a")["name"] == "a"
    (d / "adapter_model.bin").write_bytes(b"pickle")
    with pytest.raises(ConfigError, match="non-safetensors"):
        adapters.manifest(settings, "a")
    (d / "adapter_model.bin").unlink()
    (d / "adapter_config.json").unlink()
    with pytest.raises(ConfigError, match=r"missing adapter_config\.json"):
        adapters.manifest(settings, "a")
    with pytest.raises(NotFound):
        adapters.manifest(settings, "nope")


def test_gate_compares_on_common_sets() -> None:
    good = {"eval-1": {"f1": 0.6, "valid_share": 1.0}}
    worse = {"eval-1": {"f1": 0.4, "valid_share": 1.0}}
    assert adapters.gate(good, worse, "ref").allowed
    refused = adapters.gate(worse, good, "ref")
    assert not refused.allowed and "0.400 < 0.600" in refused.reason
    assert not adapters.gate(good, {"other": {"f1": 0.1}}, "ref").allowed  # nothing to compare
    tie_less_valid = {"eval-1": {"f1": 0.6, "valid_share": 0.8}}
    assert not adapters.gate(tie_less_valid, good, "ref").allowed
    assert adapters.gate(good, good, "ref").allowed  # a tie does not block


def test_active_adapter_falls_back_from_registry_to_config(settings: Settings) -> None:
    assert adapters.active_adapter(settings) is None
    settings.llm.adapter = "from-config"
    assert adapters.active_adapter(settings) == "from-config"
    adapters._activate(settings, "promoted", "promote", None, "test")
    assert adapters.active_adapter(settings) == "promoted"
    reg = adapters.read_registry(settings)
    assert reg["history"][-1]["previous"] == "from-config"


def test_list_marks_active_and_broken(settings: Settings) -> None:
    _adapter(settings, "good", {"s": {"f1": 0.5}})
    (adapters.adapters_dir(settings) / "broken").mkdir()
    adapters._activate(settings, "good", "promote", None, "test")
    rows = {r["name"]: r for r in adapters.list_adapters(settings)}
    assert rows["good"]["active"] and rows["good"]["scores"]["s"]["f1"] == 0.5
    assert "missing" in rows["broken"]["error"]


def test_the_models_shipped_adapter_serves_until_something_is_promoted(settings: Settings) -> None:
    models = adapters.adapters_dir(settings).parent
    models.mkdir(parents=True)
    (models / "manifest.toml").write_text(
        'default = "m"\n[models.m]\nadapter = "shipped-a"\n[models.other]\n'
    )
    settings.llm.model = "m"
    assert adapters.active_adapter(settings) is None  # named, but its files are not there
    _adapter(settings, "shipped-a")
    assert adapters.shipped_adapter(settings) == "shipped-a"
    assert adapters.active_adapter(settings) == "shipped-a"
    settings.llm.adapter = ""  # the config asks for the base model
    assert adapters.active_adapter(settings) is None
    settings.llm.adapter = None
    settings.llm.model = "other"  # an adapter belongs to its base model
    assert adapters.active_adapter(settings) is None
    settings.llm.model = "m"
    adapters._activate(settings, None, "rollback", None, "test")
    assert adapters.active_adapter(settings) is None  # a rollback to the base model sticks


def test_a_shipped_adapter_of_another_base_model_is_not_used(settings: Settings) -> None:
    models = adapters.adapters_dir(settings).parent
    models.mkdir(parents=True)
    (models / "manifest.toml").write_text('default = "m"\n[models.m]\nadapter = "a"\n')
    settings.llm.model = "m"
    (models / "m").mkdir()
    (models / "m" / "config.json").write_text("{}")
    d = _adapter(settings, "a")
    digest = adapters.base_model_digest(models / "m")[0]
    (d / "manifest.json").write_text(json.dumps({"name": "a", "base_model_sha256": digest}))
    assert adapters.shipped_adapter(settings) == "a"
    (models / "m" / "config.json").write_text('{"other": 1}')
    adapters._trained_on_served.cache_clear()
    assert adapters.shipped_adapter(settings) is None
