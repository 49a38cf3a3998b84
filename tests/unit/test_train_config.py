"""``finetune.train`` without torch: config loading, ``--set`` typing, data errors, helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.train import (
    TrainConfig,
    _lr_schedule,
    base_model_digest,
    batch_order,
    load_config,
    read_jsonl,
    train,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "finetune.toml"


def write(tmp_path: Path, text: str, name: str = "ft.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_matches_the_defaults() -> None:
    assert load_config(CONFIG, []) == TrainConfig()
    assert load_config(None) == TrainConfig()


def test_overrides_are_typed_like_the_defaults() -> None:
    cfg = load_config(CONFIG, ["max_steps=8", "name=tiny", "lr=1e-3", "dropout=0", "r= 8"])
    assert (cfg.max_steps, cfg.name, cfg.lr, cfg.dropout, cfg.r) == (8, "tiny", 1e-3, 0.0, 8)
    assert isinstance(cfg.max_steps, int) and isinstance(cfg.dropout, float)
    assert load_config(None, ["target_modules=q_proj, v_proj"]).target_modules == [
        "q_proj",
        "v_proj",
    ]
    assert load_config(None, ['target_modules=["o_proj"]']).target_modules == ["o_proj"]
    assert load_config(None, ["name='quoted'", "eval_file="]).name == "quoted"
    assert load_config(None, ["eval_file="]).eval_file == ""
    assert load_config(None, ["name=a=b"]).name == "a=b"  # only the first "=" splits


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("max_steps=abc", "max_steps must be an integer"),
        ("lr=fast", "lr must be a number"),
        ("max_steps", "expected KEY=VALUE"),
        ("nope=1", "expected KEY=VALUE"),
        ("device=tpu", "device must be auto, cpu or cuda"),
        ("dropout=1.5", "dropout"),
        ("r=0", "r must be >= 1"),
        ("name=../x", "name"),
        ("batch_size=0", "batch_size"),
        ("target_modules=[1]", "target_modules must be a str list"),
        ("target_modules=", "target_modules must not be empty"),
    ],
)
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        load_config(CONFIG, [override])


def test_toml_values_are_checked(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[train]\nlr = 1\n")).lr == 1.0  # int is a valid float
    cases = {
        '[train]\nr = "16"\n': "r must be an integer",
        "[train]\nmax_steps = true\n": "max_steps must be an integer",
        "[train]\nepochs = 1.5\n": "epochs must be an integer",
        '[train]\ntarget_modules = "q_proj"\n': "target_modules must be a str list",
        "[train]\nbogus = 1\n": r"unknown key \[train\].bogus",
        "[other]\nr = 1\n": r"no \[train\] table",
        "[train\n": "not valid TOML",
    }
    for text, message in cases.items():
        with pytest.raises(ValueError, match=message):
            load_config(write(tmp_path, text))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "absent.toml")


def test_paths_are_relative_to_the_project_root(tmp_path: Path) -> None:
    cfg = TrainConfig()
    assert cfg.path(cfg.base_model) == ROOT / "models" / "smollm2-135m-instruct"
    assert cfg.path(str(tmp_path)) == tmp_path


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    msgs = [{"role": "user", "content": "u"}, {"role": "assistant", "content": "{}"}]
    good = json.dumps({"messages": msgs})
    assert len(read_jsonl(write(tmp_path, good + "\n\n" + good + "\n", "ok.jsonl"))) == 2
    bad = {
        "{not json": r"bad.jsonl:2: not valid JSON",
        '{"messages": []}': r"bad.jsonl:2: expected",
        '{"messages": [{"role": "user", "content": 1}, {"role": "assistant", "content": ""}]}': (
            r"bad.jsonl:2: expected"
        ),
        '{"messages": [{"role": "user", "content": "u"}, {"role": "user", "content": "v"}]}': (
            r"bad.jsonl:2: the last message must be the assistant's"
        ),
    }
    for line, message in bad.items():
        with pytest.raises(ValueError, match=message):
            read_jsonl(write(tmp_path, good + "\n" + line + "\n", "bad.jsonl"))
    with pytest.raises(ValueError, match="no records"):
        read_jsonl(write(tmp_path, "\n", "empty.jsonl"))
    with pytest.raises(FileNotFoundError, match=r"absent\.jsonl"):
        read_jsonl(tmp_path / "absent.jsonl")


def test_train_reports_missing_inputs_before_loading_anything(tmp_path: Path) -> None:
    data = write(tmp_path, "{}\n", "train.jsonl")
    cfg = TrainConfig(base_model=str(tmp_path / "no-model"), train_file=str(data), name="x")
    with pytest.raises(FileNotFoundError, match=r"base model not found: .*no-model"):
        train(cfg)
    model = tmp_path / "model"  # a directory that looks like a checkpoint; nothing is loaded
    model.mkdir()
    (model / "config.json").write_text("{}")
    cfg = dataclasses.replace(cfg, base_model=str(model))
    cfg = dataclasses.replace(cfg, train_file=str(tmp_path / "absent.jsonl"))
    with pytest.raises(FileNotFoundError, match=r"absent\.jsonl"):
        train(cfg)
    with pytest.raises(ValueError, match="--resume needs the run's name"):
        train(dataclasses.replace(cfg, name=""), resume=True)


def test_batch_order_is_seeded_complete_and_length_grouped() -> None:
    lengths = [(i * 37) % 101 for i in range(300)]
    order = batch_order(lengths, 4, seed=7, epoch=0)
    assert order == batch_order(lengths, 4, seed=7, epoch=0)
    assert order != batch_order(lengths, 4, seed=7, epoch=1)
    assert sorted(i for b in order for i in b) == list(range(300))
    assert all(1 <= len(b) <= 4 for b in order)
    assert all(lengths[b[0]] >= lengths[b[-1]] for b in order)  # sorted inside each batch
    spread = sum(lengths[b[0]] - lengths[b[-1]] for b in order) / len(order)
    assert spread < 10  # batches hold records of similar length (random: ~50)


def test_lr_schedule_warms_up_then_decays() -> None:
    mult = _lr_schedule(total=10, warmup=2)
    values = [mult(i) for i in range(10)]
    assert values[:3] == [0.5, 1.0, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(values[1:]))
    assert 0 < values[-1] < 0.2  # the last step still learns
    assert _lr_schedule(total=3, warmup=0)(0) == 1.0


def test_base_model_digest_reads_the_manifest_or_hashes(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    computed = base_model_digest(tmp_path)
    files = {
        "config.json": hashlib.sha256(b"{}").hexdigest(),
        "model.safetensors": hashlib.sha256(b"weights").hexdigest(),
    }
    assert computed[1] == files
    # A manifest written by `appliance models fetch` is trusted (here: a deliberate fake hash).
    fake = dict(files, **{"model.safetensors": "f" * 64})
    (tmp_path / "manifest.json").write_text(json.dumps({"files": fake}))
    assert base_model_digest(tmp_path)[1] == fake
    (tmp_path / "manifest.json").write_text(json.dumps({"files": files}))
    assert base_model_digest(tmp_path) == computed


def test_importing_the_module_stays_light() -> None:
    code = "import sys, finetune.train; print([m for m in ('torch', 'transformers', 'peft')"
    code += " if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
