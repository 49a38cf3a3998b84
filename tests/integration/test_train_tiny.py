"""A tiny LoRA run on the real base model: outputs, loss masking and exact ``--resume``.

Three 4-step runs (r=4, max_length=256, 6 records) take well under a minute on 2 cores.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest

from finetune.train import IGNORE, TrainConfig, encode_chat, main, train

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "models" / "smollm2-135m-instruct"
SYSTEM = "Extract the supplier's offer from the e-mail as JSON."
PRODUCTS = ["galvanized nails", "office chair", "copper cable", "steel shelves", "boxes", "lamp"]


def record(i: int) -> dict[str, list[dict[str, str]]]:
    """One chat record: a short supplier mail and its JSON answer."""
    product = PRODUCTS[i % len(PRODUCTS)]
    mail = (
        f"From: sales{i}@supplier{i}.example\nSubject: Offer {product}\n\n"
        f"Dear buyer, we offer {product} at {10 + i}.50 EUR per piece, minimum order {i + 1}00 "
        f"pieces, delivery within {i + 3} days. Kind regards, Supplier {i}"
    )
    answer = {
        "supplier": {"name": f"Supplier {i}", "email": f"sales{i}@supplier{i}.example"},
        "items": [{"product_name": product, "unit_price": 10.5 + i, "currency": "EUR",
                   "moq": (i + 1) * 100, "lead_time_days": i + 3}],
    }  # fmt: skip
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": mail},
                         {"role": "assistant", "content": json.dumps(answer)}]}  # fmt: skip


@pytest.fixture(scope="module")
def base_cfg(tmp_path_factory: pytest.TempPathFactory) -> TrainConfig:
    if not (BASE / "model.safetensors").is_file():
        pytest.skip(f"base model not provisioned in {BASE} (appliance models fetch)")
    data = tmp_path_factory.mktemp("data")
    for name, ids in (("train.jsonl", range(6)), ("eval.jsonl", range(6, 8))):
        lines = (json.dumps(record(i)) for i in ids)
        (data / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return TrainConfig(
        train_file=str(data / "train.jsonl"), eval_file=str(data / "eval.jsonl"),
        output_dir=str(tmp_path_factory.mktemp("adapters")), r=4, alpha=8, max_steps=4,
        batch_size=2, grad_accum=1, max_length=256, save_every=2, threads=2,
    )  # fmt: skip


@pytest.fixture(scope="module")
def straight(base_cfg: TrainConfig) -> Path:
    """An uninterrupted 4-step run (3 steps per epoch: crosses an epoch boundary)."""
    return train(dataclasses.replace(base_cfg, name="straight"), progress=False)


@pytest.fixture(scope="module")
def tokenizer() -> object:
    if not (BASE / "tokenizer.json").is_file():
        pytest.skip(f"base model not provisioned in {BASE}")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(BASE)


def adapter_weights(path: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(path / "adapter_model.safetensors")


def assert_same_weights(a: Path, b: Path) -> None:
    import torch

    wa, wb = adapter_weights(a), adapter_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.allclose(wa[key], wb[key], rtol=1e-5, atol=1e-7), key


def test_outputs_and_manifest(straight: Path, base_cfg: TrainConfig) -> None:
    assert (straight / "adapter_model.safetensors").is_file()
    adapter_cfg = json.loads((straight / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == 4 and adapter_cfg["peft_type"] == "LORA"
    assert set(adapter_cfg["target_modules"]) == set(base_cfg.target_modules)
    weights = adapter_weights(straight)
    assert len(weights) == 30 * 7 * 2  # layers x target modules x (A, B)
    assert all(k.startswith("base_model.model.model.layers.") for k in weights)
    manifest = json.loads((straight / "manifest.json").read_text())
    assert manifest["name"] == "straight" and manifest["steps"] == 4
    assert manifest["base_model"] == "smollm2-135m-instruct"
    assert len(manifest["base_model_sha256"]) == 64
    assert manifest["train_data"]["records"] == 6 and manifest["eval_data"]["records"] == 2
    assert manifest["hyperparameters"]["r"] == 4 and manifest["scores"] == {}
    assert math.isfinite(manifest["train_loss"]) and math.isfinite(manifest["eval_loss"])
    assert [h["step"] for h in manifest["history"]] == [3, 4]  # one epoch, then a partial one
    assert {"torch", "transformers", "peft"} <= manifest["versions"].keys()
    assert sorted(p.name for p in (straight / "checkpoints").iterdir()) == ["step-2", "step-4"]


def test_only_the_answer_carries_labels(tokenizer: object) -> None:
    msgs = record(0)["messages"]
    ids, labels, truncated = encode_chat(tokenizer, msgs, 256)
    assert not truncated and len(ids) == len(labels)
    prompt = tokenizer.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert ids[:n_prompt] == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert all(t != IGNORE for t in labels[n_prompt:]) and labels[n_prompt:] == ids[n_prompt:]
    assert tokenizer.decode(labels[n_prompt:]) == msgs[-1]["content"] + "<|im_end|>"


def test_long_user_message_is_cut_never_the_answer(tokenizer: object) -> None:
    msgs = record(1)["messages"]
    msgs[1]["content"] += " Lorem ipsum dolor sit amet." * 100
    ids, labels, truncated = encode_chat(tokenizer, msgs, 200)
    assert truncated and len(ids) <= 200
    answer = [t for t in labels if t != IGNORE]
    assert tokenizer.decode(answer) == msgs[-1]["content"] + "<|im_end|>"
    assert "Subject: Offer office chair" in tokenizer.decode(ids)  # the mail's start is kept
    assert encode_chat(tokenizer, msgs, 48) is None  # the answer alone does not fit


def test_resume_gives_the_same_adapter(straight: Path, base_cfg: TrainConfig) -> None:
    # As the brief's CLI would: 2 steps, then --resume to 4.
    args = ["--config", str(ROOT / "configs" / "finetune.toml"), "--no-progress"]
    args += [f"--set={k}={v}" for k, v in dataclasses.asdict(base_cfg).items()
             if k not in ("name", "target_modules", "max_steps")]  # fmt: skip
    assert main([*args, "--set", "name=resumed", "--set", "max_steps=2"]) == 0
    resumed = Path(base_cfg.output_dir) / "resumed"
    assert json.loads((resumed / "manifest.json").read_text())["steps"] == 2
    assert main([*args, "--set", "name=resumed", "--set", "max_steps=4"]) == 2  # exists
    assert main([*args, "--set", "name=resumed", "--set", "max_steps=4", "--resume"]) == 0
    assert_same_weights(straight, resumed)
    assert json.loads((resumed / "manifest.json").read_text())["steps"] == 4

    # A 4-step run killed after step 2: only its step-2 checkpoint survives.
    crashed = Path(base_cfg.output_dir) / "crashed"
    shutil.copytree(straight / "checkpoints" / "step-2", crashed / "checkpoints" / "step-2")
    out = train(dataclasses.replace(base_cfg, name="crashed"), resume=True, progress=False)
    assert_same_weights(straight, out)
    history = json.loads((out / "manifest.json").read_text())["history"]
    assert history == json.loads((straight / "manifest.json").read_text())["history"]

    with pytest.raises(ValueError, match="changed: r"):
        train(dataclasses.replace(base_cfg, name="crashed", r=8), resume=True, progress=False)


def test_ignored_ranges_of_the_answer_carry_no_labels(tokenizer: object) -> None:
    msgs = record(0)["messages"]
    answer = '{"i":[{"n":"Some product","k":"AB-12"}]}'
    start = answer.index('"Some product"')
    msgs[-1] = {"role": "assistant", "content": answer, "ignore": [[start, start + 14]]}
    _, labels, _ = encode_chat(tokenizer, msgs, 256)
    learnt = tokenizer.decode([t for t in labels if t != IGNORE])
    assert "Some product" not in learnt and "Some" not in learnt
    # a token straddling the range's edge (the closing quote and the comma) is masked too
    assert 'k":"AB-12"}]}' in learnt and learnt.endswith("<|im_end|>")
    msgs[-1].pop("ignore")
    _, whole, _ = encode_chat(tokenizer, msgs, 256)
    assert sum(t != IGNORE for t in whole) > sum(t != IGNORE for t in labels)
