"""LoRA adapters: the registry in ``models/adapters/``, promotion into the running vLLM server
and rollback.

Each adapter is a directory ``models/adapters/<name>/`` holding PEFT's
``adapter_model.safetensors`` + ``adapter_config.json`` and a ``manifest.json`` (written by
``finetune.train``, scores added by ``finetune.evaluate``). ``<data_dir>/adapters.json`` records
the active adapter and every promotion and rollback. Promotion loads the adapter into the running
vLLM server (runtime LoRA API, no restart), and switches the extractors: the active name is also
published in Redis, which the extract workers read before each extraction. vLLM started later
loads the active adapter by itself (``--lora-modules``).

Nothing here imports torch: loading is vLLM's job; the gate compares the scores the manifests
carry.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from appliance.errors import ConfigError, Conflict, LLMUnavailable, NotFound
from appliance.provision import base_model_digest, catalogue
from appliance.settings import Settings

log = logging.getLogger(__name__)

REQUIRED_FILES = ("adapter_model.safetensors", "adapter_config.json", "manifest.json")
# Weights in any other format are refused: pickled files can run code when loaded.
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
# Scores within this of each other are a tie (a tie does not block promotion).
TOLERANCE = 1e-6


def adapters_dir(settings: Settings) -> Path:
    return settings.paths.resolve(settings.paths.models_dir) / "adapters"


def shipped_adapter(settings: Settings) -> str | None:
    """The adapter the model catalogue ships for the served base model (``adapter`` in
    ``models/manifest.toml``) when its directory is present and it was trained on this very
    base model (the digest its manifest records); else None, with a warning for a mismatch."""
    entry = catalogue(adapters_dir(settings).parent).get("models", {}).get(settings.llm.model, {})
    name = entry.get("adapter") if isinstance(entry, dict) else None
    if not (isinstance(name, str) and name and (adapters_dir(settings) / name).is_dir()):
        return None
    return (
        name
        if _trained_on_served(str(adapters_dir(settings) / name), str(settings.model_dir))
        else None
    )


@functools.lru_cache(maxsize=16)
def _trained_on_served(adapter: str, model_dir: str) -> bool:
    try:
        recorded = json.loads((Path(adapter) / "manifest.json").read_text())["base_model_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = None
    served = (
        base_model_digest(Path(model_dir))[0] if Path(model_dir, "config.json").is_file() else None
    )
    if recorded and served and recorded != served:
        log.warning("shipped adapter %s was trained on another base model (%s ≠ %s): not used",
                    Path(adapter).name, recorded[:12], served[:12])  # fmt: skip
        return False
    return True


def default_adapter(settings: Settings) -> str | None:
    """The adapter used while nothing was promoted: ``llm.adapter`` when set (``""``: the base
    model), else the model's shipped adapter (``shipped_adapter``)."""
    if settings.llm.adapter is not None:
        return settings.llm.adapter or None
    return shipped_adapter(settings)


def registry_path(settings: Settings) -> Path:
    """Which adapter is active and the history of promotions: runtime state of this
    installation, so it lives with the database in the data dir, not with the weights."""
    return settings.paths.resolve(settings.paths.data_dir) / "adapters.json"


def redis_key(settings: Settings) -> str:
    return f"{settings.redis.namespace}:llm:adapter"


def read_registry(settings: Settings) -> dict[str, Any]:
    """``{"active": name | None, "history": [...]}`` (empty when nothing was promoted)."""
    try:
        data: dict[str, Any] = json.loads(registry_path(settings).read_text())
    except FileNotFoundError:
        return {"active": default_adapter(settings), "history": []}
    except ValueError as exc:
        raise ConfigError(f"{registry_path(settings)} is not valid JSON: {exc}") from exc
    return data


def _write_registry(settings: Settings, data: dict[str, Any]) -> None:
    path = registry_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    tmp.replace(path)


def active_adapter(settings: Settings, client: redis.Redis | None = None) -> str | None:
    """The adapter extractions use now: Redis (set by promotion, shared by every worker host),
    else the registry file, else ``default_adapter``; None is the base model."""
    if client is not None:
        try:
            value = client.get(redis_key(settings))
        except redis.RedisError:
            value = None
        if value is not None:
            name = value.decode() if isinstance(value, bytes) else str(value)
            return name or None
    try:
        active = read_registry(settings).get("active")
    except ConfigError:
        active = default_adapter(settings)
    return str(active) if active else None


def manifest(settings: Settings, name: str) -> dict[str, Any]:
    """An adapter's manifest after checking its files (safetensors only)."""
    d = adapters_dir(settings) / name
    if not d.is_dir():
        raise NotFound(f"adapter {name!r} not found in {adapters_dir(settings)}")
    missing = [f for f in REQUIRED_FILES if not (d / f).is_file()]
    if missing:
        raise ConfigError(f"adapter {name!r} is incomplete: missing {', '.join(missing)}")
    bad = [p.name for p in d.iterdir() if p.suffix in FORBIDDEN_SUFFIXES]
    if bad:
        raise ConfigError(f"adapter {name!r} holds non-safetensors weights: {', '.join(bad)}")
    data: dict[str, Any] = json.loads((d / "manifest.json").read_text())
    return data


def list_adapters(settings: Settings) -> list[dict[str, Any]]:
    """Every adapter directory with its manifest (or the reason it cannot be used)."""
    root = adapters_dir(settings)
    active = active_adapter(settings)
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        entry: dict[str, Any] = {"name": d.name, "active": d.name == active}
        try:
            entry.update(manifest(settings, d.name))
            entry["name"] = d.name
        except (ConfigError, NotFound, ValueError) as exc:
            entry["error"] = str(exc)
        out.append(entry)
    return out


def base_scores(settings: Settings) -> dict[str, Any]:
    """Scores of the base model per evaluation set (``finetune.evaluate`` writes them)."""
    path = adapters_dir(settings) / "base-scores.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data.get(settings.llm.model, {})


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    new: float | None = None
    reference: float | None = None


def gate(new_scores: dict[str, Any], ref_scores: dict[str, Any], ref_name: str) -> Verdict:
    """May an adapter replace the reference (the active adapter, or the base model)? Compared
    on the evaluation sets both were scored on: micro F1 first, then the share of schema-valid
    answers. Refused when it is worse on any common set, or when there is no common set."""
    common = sorted(set(new_scores) & set(ref_scores))
    if not common:
        return Verdict(
            False,
            f"no evaluation set scored for both this adapter and {ref_name}: evaluate both on"
            " the same set (python -m finetune.evaluate --set DIR --model ...)",
        )
    for key in common:
        n, r = new_scores[key], ref_scores[key]
        nf, rf = n.get("f1") or 0.0, r.get("f1") or 0.0
        if nf < rf - TOLERANCE:
            return Verdict(False, f"F1 {nf:.3f} < {rf:.3f} of {ref_name} on {key}", nf, rf)
        if abs(nf - rf) <= TOLERANCE and (n.get("valid_share") or 0) < (r.get("valid_share") or 0):
            return Verdict(False, f"valid share below {ref_name} on {key} at equal F1", nf, rf)
    key = common[0]
    nf, rf = new_scores[key].get("f1") or 0.0, ref_scores[key].get("f1") or 0.0
    return Verdict(True, f"F1 {nf:.3f} ≥ {rf:.3f} of {ref_name} on {key}", nf, rf)


def _root(settings: Settings) -> str:
    return settings.llm.base_url.rstrip("/").removesuffix("/v1")


def served_models(settings: Settings, root: str | None = None) -> list[str]:
    """Model names a vLLM server (default: the first) serves now (base and loaded adapters)."""
    root = root or _root(settings)
    try:
        r = httpx.get(f"{root}/v1/models", timeout=10)
        r.raise_for_status()
    except httpx.HTTPError as exc:
        raise LLMUnavailable(f"vLLM at {root} does not answer: {exc}") from exc
    return [m["id"] for m in r.json().get("data", [])]


def load_into_vllm(settings: Settings, name: str) -> None:
    """Load an adapter into every vLLM server of ``llm.urls`` (no restart); a no-op where it
    is loaded. Each server reads it from the same path (shared or copied adapters folder)."""
    path = adapters_dir(settings) / name
    for root in (u.removesuffix("/v1") for u in settings.llm.urls):
        if name in served_models(settings, root):
            continue
        try:
            r = httpx.post(
                f"{root}/v1/load_lora_adapter",
                json={"lora_name": name, "lora_path": str(path)},
                timeout=300,
            )
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"vLLM at {root} does not answer: {exc}") from exc
        if r.status_code >= 400 and "already" not in r.text:
            raise Conflict(
                f"vLLM at {root} refused adapter {name!r}: HTTP {r.status_code} {r.text[:300]}"
            )
        if name not in served_models(settings, root):
            raise Conflict(f"vLLM at {root} did not list adapter {name!r} after loading it")


def _activate(
    settings: Settings, name: str | None, action: str, client: redis.Redis | None, note: str
) -> None:
    reg = read_registry(settings)
    previous = reg.get("active")
    reg["active"] = name
    reg.setdefault("history", []).append(
        {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "action": action, "adapter": name, "previous": previous, "note": note,
        }
    )  # fmt: skip
    _write_registry(settings, reg)
    if client is not None:
        client.set(redis_key(settings), name or "")


def promote(
    settings: Settings, name: str, *, force: bool = False, client: redis.Redis | None = None
) -> dict[str, Any]:
    """Check, gate, load into vLLM and activate an adapter; returns what happened."""
    t0 = time.perf_counter()
    m = manifest(settings, name)
    base_hash = _base_hash(settings)
    if base_hash and m.get("base_model_sha256") and m["base_model_sha256"] != base_hash:
        raise Conflict(
            f"adapter {name!r} was trained on another base model"
            f" ({m['base_model_sha256'][:12]} ≠ {base_hash[:12]})"
        )
    active = active_adapter(settings, client)
    if active == name:
        raise Conflict(f"adapter {name!r} is already active")
    if active:
        ref_name, ref = f"the active adapter {active!r}", manifest(settings, active)
        ref_scores = ref.get("scores") or {}
    else:
        ref_name, ref_scores = f"the base model {settings.llm.model!r}", base_scores(settings)
    verdict = gate(m.get("scores") or {}, ref_scores, ref_name)
    if not verdict.allowed and not force:
        raise Conflict(f"promotion of {name!r} refused: {verdict.reason} (--force overrides)")
    load_into_vllm(settings, name)
    note = verdict.reason + (" (forced)" if force and not verdict.allowed else "")
    _activate(settings, name, "promote", client, note)
    return {"adapter": name, "previous": active, "verdict": note,
            "seconds": round(time.perf_counter() - t0, 2)}  # fmt: skip


def rollback(settings: Settings, client: redis.Redis | None = None) -> dict[str, Any]:
    """Return to the adapter active before the current one (or the base model)."""
    t0 = time.perf_counter()
    reg = read_registry(settings)
    current = active_adapter(settings, client)
    previous = None
    for entry in reversed(reg.get("history", [])):
        if entry.get("adapter") == current and entry.get("action") == "promote":
            previous = entry.get("previous")
            break
    else:
        if current is None:
            raise Conflict("nothing to roll back: the base model is active")
    if previous:
        load_into_vllm(settings, previous)
    _activate(settings, previous, "rollback", client, f"from {current}")
    return {"adapter": previous, "from": current, "seconds": round(time.perf_counter() - t0, 2)}


def _base_hash(settings: Settings) -> str | None:
    if not (settings.model_dir / "config.json").is_file():
        return None
    return base_model_digest(settings.model_dir)[0]
