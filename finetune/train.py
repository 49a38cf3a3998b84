"""LoRA fine-tuning of the base model on chat-format JSONL (PEFT + transformers, CPU or CUDA).

    python -m finetune.train --config configs/finetune.toml [--set key=value ...] [--resume]

Each JSONL line is ``{"messages": [system, user, assistant]}``. A record is rendered with the base
model's chat template as vLLM's chat endpoint renders it; the loss covers only the assistant's
answer and its end-of-turn token, less the characters a record's ``ignore`` lists (partial
labels, ``finetune.dataset.partial_record``). Over-long records lose the end of the last user
message (never the answer). Precision ``auto``: bf16 on CUDA and on CPUs with native bf16 (the
adapter is then saved in bf16), else fp32. The adapter lands in ``<output_dir>/<name>/`` in the
standard PEFT layout that vLLM serves with ``--enable-lora``, beside a ``manifest.json``.
Checkpoints go to ``<output_dir>/<name>/checkpoints/step-N/``; ``--resume`` continues exactly like
an uninterrupted run (data order from the seed, restored adapter, optimizer, schedule and RNG).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import random
import shutil
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from appliance.provision import base_model_digest, sha256_file

log = logging.getLogger("finetune.train")

ROOT = Path(__file__).resolve().parent.parent
IGNORE = -100
VLLM_MAX_LORA_RANK = 16  # vLLM's --max-lora-rank default (llm.server.max_lora_rank)
KEEP_CHECKPOINTS = 2
BUCKET_BATCHES = 32  # length grouping: sort by length within 32 batches' worth of records
MAX_GRAD_NORM = 1.0
# What a --resume must not change (epochs/max_steps may: the schedule follows the new total).
RESUME_FIXED = ("base_model", "r", "alpha", "dropout", "target_modules", "batch_size")
RESUME_FIXED += ("grad_accum", "max_length", "seed", "lr", "warmup_ratio")
_ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclasses.dataclass
class TrainConfig:
    """The ``[train]`` table of ``configs/finetune.toml``; relative paths are from the project
    root. ``name = ""`` means ``offers-<UTC yyyymmdd-HHMM>``; ``max_steps > 0`` overrides
    ``epochs``; ``threads = 0`` uses all cores; ``save_every = 0`` checkpoints only at the end."""

    base_model: str = "models/smollm2-135m-instruct"
    train_file: str = "data/train/train.jsonl"
    eval_file: str = "data/train/eval.jsonl"
    output_dir: str = "models/adapters"
    name: str = ""
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = dataclasses.field(default_factory=lambda: list(_ALL_LINEAR))
    lr: float = 2e-4
    epochs: int = 2
    max_steps: int = 0
    batch_size: int = 4
    grad_accum: int = 2
    max_length: int = 1024
    warmup_ratio: float = 0.05
    seed: int = 7
    save_every: int = 50
    threads: int = 0
    device: str = "auto"
    precision: str = "auto"

    def path(self, value: str) -> Path:
        """``value`` as a path: absolute as is, relative from the project root."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else ROOT / p


_TYPES: dict[str, type] = {k: type(v) for k, v in dataclasses.asdict(TrainConfig()).items()}


def _typed(key: str, value: Any, where: str) -> Any:
    """``value`` checked against (or, from a ``--set`` string, parsed as) the default's type."""
    want = _TYPES[key]
    if isinstance(value, str) and where == "--set" and want is not str:
        try:
            if want is list:
                items = json.loads(value) if value.startswith("[") else value.split(",")
                ok = all(isinstance(v, str) for v in items)
                value = [v.strip() for v in items if v.strip()] if ok else items
            else:
                value = want(value)
        except ValueError:
            pass  # reported below
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif want is list and isinstance(value, list) and not all(isinstance(v, str) for v in value):
        value = None
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        kind = {int: "an integer", float: "a number", str: "a string"}.get(want, "a str list")
        raise ValueError(f"{where}: {key} must be {kind}, got {value!r}")
    return value


def _validate(cfg: TrainConfig) -> None:
    checks = [
        (cfg.r >= 1 and cfg.alpha > 0, "r must be >= 1 and alpha > 0"),
        (0 <= cfg.dropout < 1 and 0 <= cfg.warmup_ratio < 1, "dropout, warmup_ratio in [0, 1)"),
        (cfg.lr > 0, "lr must be > 0"),
        (cfg.epochs >= 1 or cfg.max_steps > 0, "epochs must be >= 1 (or max_steps > 0)"),
        (min(cfg.max_steps, cfg.save_every, cfg.threads) >= 0, "negative count"),
        (cfg.batch_size >= 1 and cfg.grad_accum >= 1, "batch_size and grad_accum must be >= 1"),
        (cfg.max_length >= 32, "max_length must be >= 32"),
        (cfg.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda"),
        (cfg.precision in ("auto", "fp32", "bf16"), "precision must be auto, fp32 or bf16"),
        (bool(cfg.target_modules), "target_modules must not be empty"),
        (cfg.name == Path(cfg.name).name and cfg.name not in (".", ".."), "name: a plain name"),
        (all((cfg.base_model, cfg.train_file, cfg.output_dir)), "empty path"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ValueError(f"[train] {msg}")


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read the ``[train]`` table of a TOML file (``None``: defaults only), then apply
    ``key=value`` overrides typed like the defaults. Raises FileNotFoundError, or ValueError for
    bad TOML, an unknown key, a wrong type or an out-of-range value."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            table = tomllib.loads(p.read_text(encoding="utf-8")).get("train")
        except FileNotFoundError:
            raise FileNotFoundError(f"config file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"config file {p} is not valid TOML: {exc}") from exc
        if not isinstance(table, dict):
            raise ValueError(f"config file {p} has no [train] table")
        for key, value in table.items():
            if key not in _TYPES:
                raise ValueError(f"{p}: unknown key [train].{key}")
            values[key] = _typed(key, value, str(p))
    for item in overrides or []:
        key, sep, raw = (s.strip() for s in item.partition("="))
        if not sep or key not in _TYPES:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, KEY one of {', '.join(_TYPES)}")
        if _TYPES[key] is str and len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        values[key] = _typed(key, raw, "--set")
    cfg = TrainConfig(**values)
    _validate(cfg)
    return cfg


# --------------------------------------------------------------------------- data


def read_jsonl(path: Path) -> list[list[dict[str, Any]]]:
    """The ``messages`` lists of a chat JSONL file (the last message is the assistant's; a
    record's ``ignore``, character ranges of the answer whose tokens are not learnt, is kept on
    that message, see ``finetune.dataset.partial_record``).

    Raises FileNotFoundError for a missing file, ValueError naming the line of a bad record."""
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            msgs = rec.get("messages") if isinstance(rec, dict) else None
            ok = isinstance(msgs, list) and len(msgs) >= 2
            if not ok or not all(isinstance(m, dict) and _is_msg(m) for m in msgs):
                raise ValueError(f'{path}:{n}: expected {{"messages": [{{"role": str, "content":'
                                 ' str}, ...]} with at least two messages')  # fmt: skip
            if msgs[-1]["role"] != "assistant":
                raise ValueError(f"{path}:{n}: the last message must be the assistant's answer")
            ignore = rec.get("ignore", [])
            if not (isinstance(ignore, list) and all(_is_range(r) for r in ignore)):
                raise ValueError(f'{path}:{n}: "ignore" must be a list of [start, end] offsets')
            out.append([{"role": m["role"], "content": m["content"]} for m in msgs])
            if ignore:  # character ranges of the answer whose tokens are not learnt
                out[-1][-1]["ignore"] = ignore
    if not out:
        raise ValueError(f"{path}: no records")
    return out


def _is_range(r: Any) -> bool:
    return (
        isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) for x in r) and r[0] <= r[1]
    )


def _is_msg(m: dict[str, Any]) -> bool:
    return isinstance(m.get("role"), str) and isinstance(m.get("content"), str)


def _render(tokenizer: Any, msgs: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
    full = tokenizer.apply_chat_template(msgs, tokenize=False)
    prompt = tokenizer.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
    if not full.startswith(prompt):
        raise ValueError(
            "chat template: the prompt rendered with add_generation_prompt=True is not a prefix "
            "of the rendered conversation, so the assistant's answer cannot be located"
        )
    completion, answer = full[len(prompt) :], msgs[-1]["content"]
    start = completion.find(answer)
    if start < 0:
        raise ValueError("chat template: the assistant's content is not rendered verbatim")
    # The prompt is tokenised on its own, as vLLM does; the completion is what the model writes.
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    enc = tokenizer(completion, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    n = sum(1 for s, _ in offsets if s < start + len(answer))
    ans = enc["input_ids"][: n + 1]  # the answer's tokens + the end-of-turn token
    skip = [(start + a, start + b) for a, b in msgs[-1].get("ignore", [])]
    labels = [
        IGNORE if any(s < b and e > a for a, b in skip) else t
        for t, (s, e) in zip(ans, offsets[: len(ans)], strict=True)
    ]
    return p_ids + ans, [IGNORE] * len(p_ids) + labels


def encode_chat(
    tokenizer: Any, messages: list[dict[str, Any]], max_length: int
) -> tuple[list[int], list[int], bool] | None:
    """``(input_ids, labels, truncated)`` of one record; labels are ``-100`` except on the
    assistant's answer and its end-of-turn token. A record over ``max_length`` loses the end of
    its last user message until it fits; ``None`` when even an empty user message does not."""
    msgs = [dict(m) for m in messages]
    users = [i for i, m in enumerate(msgs[:-1]) if m["role"] == "user"]
    truncated = False
    for _ in range(16):
        ids, labels = _render(tokenizer, msgs)
        excess = len(ids) - max_length
        if excess <= 0:
            return ids, labels, truncated
        if not users or not msgs[users[-1]]["content"]:
            return None
        content = tokenizer(msgs[users[-1]]["content"], add_special_tokens=False)["input_ids"]
        keep = len(content) - excess
        text = tokenizer.decode(content[:keep]).rstrip("\ufffd") if keep > 0 else ""
        msgs[users[-1]]["content"], truncated = text, True
    return None


def _prepare(tokenizer: Any, path: Path, max_length: int) -> tuple[list[Any], dict[str, Any]]:
    records, data, truncated = read_jsonl(path), [], 0
    for i, msgs in enumerate(records):
        try:
            enc = encode_chat(tokenizer, msgs, max_length)
        except ValueError as exc:
            raise ValueError(f"{path}: record {i + 1}: {exc}") from exc
        if enc is not None:
            data.append(enc[:2])
            truncated += enc[2]
    skipped = len(records) - len(data)
    if skipped:
        log.warning("%s: skipped %d of %d records: the answer alone exceeds max_length=%d",
                    path.name, skipped, len(records), max_length)  # fmt: skip
    log.info("%s: %d records, %d used, %d with the user message truncated to max_length=%d",
             path.name, len(records), len(data), truncated, max_length)  # fmt: skip
    stats = {"file": str(path), "sha256": sha256_file(path), "records": len(records)}
    return data, stats | {"used": len(data), "truncated": truncated, "skipped": skipped}


def batch_order(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches of record indices for one epoch: shuffled by ``seed`` and ``epoch``, sorted by
    length within buckets of ``BUCKET_BATCHES`` batches (little padding), batches shuffled."""
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    batches, bucket = [], batch_size * BUCKET_BATCHES
    for b in range(0, len(idx), bucket):
        chunk = sorted(idx[b : b + bucket], key=lambda i: -lengths[i])
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _collate(data: list[Any], idx: list[int], pad_id: int, device: Any) -> tuple[Any, Any, Any]:
    import torch

    shape = (len(idx), max(len(data[i][0]) for i in idx))
    ids, labels = torch.full(shape, pad_id), torch.full(shape, IGNORE)
    mask = torch.zeros(shape, dtype=torch.long)
    for row, i in enumerate(idx):
        n = len(data[i][0])
        ids[row, :n], labels[row, :n] = torch.tensor(data[i][0]), torch.tensor(data[i][1])
        mask[row, :n] = 1
    return ids.to(device), mask.to(device), labels.to(device)


def _loss_sum(model: Any, ids: Any, mask: Any, labels: Any) -> Any:
    """Summed next-token cross-entropy over the labelled positions (logits only there)."""
    import torch.nn.functional as F

    base = model.get_base_model()
    targets = labels[:, 1:]
    sel = targets != IGNORE
    if getattr(base.config, "final_logit_softcapping", None) is None:
        hidden = base.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=False)[0]
        logits = base.get_output_embeddings()(hidden[:, :-1][sel])
    else:  # the model post-processes its logits: take them whole
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1][sel]
    return F.cross_entropy(logits.float(), targets[sel], reduction="sum")


def _labelled(data: list[Any], idx: list[int]) -> int:
    return sum(sum(1 for t in data[i][1][1:] if t != IGNORE) for i in idx)


def _evaluate(
    model: Any, data: list[Any], batch_size: int, pad_id: int, device: Any, bf16: bool
) -> float:
    import torch

    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
    total = 0.0
    model.eval()
    with torch.no_grad(), _autocast(device, bf16):
        for b in range(0, len(order), batch_size):
            total += _loss_sum(model, *_collate(data, order[b : b + batch_size], pad_id, device))
    model.train()
    return float(total) / max(_labelled(data, order), 1)


def bf16_of(precision: str, device: Any) -> bool:
    """Whether to train in bf16 (base weights bf16, LoRA weights fp32, bf16 autocast):
    ``auto`` takes it on CUDA and on a CPU with native bf16 (AVX512-BF16/AMX, per oneDNN)."""
    import torch

    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


def _autocast(device: Any, bf16: bool) -> Any:
    import torch

    if bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _lr_schedule(total: int, warmup: int) -> Any:
    def mult(i: int) -> float:  # i: 0-based index of the optimizer step about to be taken
        return (i + 1) / warmup if i < warmup else max(0.0, (total - i) / max(1, total - warmup))

    return mult


# --------------------------------------------------------------------------- files


def _checkpoints(root: Path) -> list[Path]:
    found = [p for p in root.glob("step-*") if (p / "state.pt").is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _save_checkpoint(root: Path, model: Any, opt: Any, sched: Any, state: dict[str, Any]) -> None:
    import torch

    tmp, final = root / f".step-{state['step']}.tmp", root / f"step-{state['step']}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    rng = {"python": random.getstate(), "torch": torch.get_rng_state(), "cuda": cuda}
    extra = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": rng}
    torch.save(state | extra, tmp / "state.pt")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in _checkpoints(root)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(ckpt: Path, model: Any, opt: Any, sched: Any, fixed: dict) -> dict[str, Any]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=True)
    changed = [k for k, v in fixed.items() if state["fixed"].get(k) != v]
    if changed:
        raise ValueError(f"cannot resume from {ckpt}: changed: {', '.join(changed)}")
    set_peft_model_state_dict(model, load_file(ckpt / "adapter_model.safetensors"))
    opt.load_state_dict(state.pop("optimizer"))
    sched.load_state_dict(state.pop("scheduler"))
    rng = state.pop("rng")
    random.setstate(rng["python"])
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return state


# --------------------------------------------------------------------------- training


def _check_paths(cfg: TrainConfig, resume: bool) -> tuple[Path, Path, Path | None, Path | None]:
    """Base model dir, train file, eval file (or None) and the checkpoint to resume (or None)."""
    base_dir, train_path = cfg.path(cfg.base_model), cfg.path(cfg.train_file)
    if not (base_dir / "config.json").is_file():
        raise FileNotFoundError(f"base model not found: {base_dir} (no config.json)")
    if not train_path.is_file():
        raise FileNotFoundError(f"train file not found: {train_path}")
    eval_path = cfg.path(cfg.eval_file) if cfg.eval_file else None
    if eval_path is not None and not eval_path.is_file():
        log.warning("eval file not found: %s (no eval loss)", eval_path)
        eval_path = None
    out_dir = out_dir_of(cfg)
    found = _checkpoints(out_dir / "checkpoints") if resume else []
    if resume and not found:
        log.warning("no checkpoint in %s: starting from scratch", out_dir / "checkpoints")
    if not found and out_dir.is_dir() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists: use --resume or another name")
    if cfg.r > VLLM_MAX_LORA_RANK:
        log.warning("r=%d exceeds vLLM's default --max-lora-rank %d: raise "
                    "llm.server.max_lora_rank to serve it", cfg.r, VLLM_MAX_LORA_RANK)  # fmt: skip
    return base_dir, train_path, eval_path, found[-1] if found else None


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True) -> Path:
    """Train a LoRA adapter as ``cfg`` says and return its directory ``<output_dir>/<name>``.

    ``resume`` continues from the run's latest checkpoint (from scratch when there is none).
    Raises FileNotFoundError (base model, data), ValueError (data, config) and FileExistsError
    (the adapter directory exists and ``resume`` is false)."""
    started = time.monotonic()
    _validate(cfg)
    if resume and not cfg.name:
        raise ValueError("--resume needs the run's name (--set name=...)")
    cfg = dataclasses.replace(cfg, name=cfg.name or f"offers-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M}")
    base_dir, train_path, eval_path, latest = _check_paths(cfg, resume)
    if "torch" not in sys.modules:
        # Beside a busy vLLM on the same cores, spinning OpenMP threads made steps ~10x slower.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import peft
    import torch
    import transformers
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device = 'cuda' but torch sees no CUDA device")
    device = torch.device("cuda" if cfg.device != "cpu" and torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    tokenizer = transformers.AutoTokenizer.from_pretrained(base_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train_data, train_stats = _prepare(tokenizer, train_path, cfg.max_length)
    if not train_data:
        raise ValueError(f"{train_path}: no record fits max_length={cfg.max_length}")
    eval_data, eval_stats = [], None
    if eval_path is not None:
        eval_data, eval_stats = _prepare(tokenizer, eval_path, cfg.max_length)

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    bf16 = bf16_of(cfg.precision, device)
    dtype = torch.bfloat16 if bf16 else torch.float32
    model = transformers.AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype).to(device)
    lora = peft.LoraConfig(
        r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, bias="none",
        target_modules=list(cfg.target_modules), task_type="CAUSAL_LM",
    )  # fmt: skip
    model = peft.get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:  # the trained weights and their optimizer state stay fp32
        p.data = p.data.float()
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    lengths = [len(ids) for ids, _ in train_data]
    per_epoch = math.ceil(math.ceil(len(train_data) / cfg.batch_size) / cfg.grad_accum)
    total = cfg.max_steps or cfg.epochs * per_epoch
    schedule = _lr_schedule(total, math.ceil(cfg.warmup_ratio * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    fixed = {k: getattr(cfg, k) for k in RESUME_FIXED} | {"train_sha256": train_stats["sha256"]}
    state: dict[str, Any] = {"step": 0, "loss": 0.0, "tokens": 0, "history": [], "elapsed": 0.0,
                             "order_epoch": -1, "order": [], "fixed": fixed}  # fmt: skip
    if latest is not None:
        state = _load_checkpoint(latest, model, opt, sched, fixed)
        for group, base_lr in zip(opt.param_groups, sched.base_lrs, strict=True):
            group["lr"] = base_lr * schedule(state["step"])  # the schedule of the new total
        log.info("resuming from %s", latest)

    def end_epoch(epoch: int, partial: bool) -> None:
        loss = state["loss"] / state["tokens"] if state["tokens"] else None
        ev = None
        if eval_data:
            ev = _evaluate(model, eval_data, cfg.batch_size, pad_id, device, bf16)
        state["history"].append({"epoch": epoch + 1, "step": state["step"], "partial": partial,
                                 "train_loss": loss, "eval_loss": ev})  # fmt: skip
        what = f"epoch {epoch + 1}{' (partial)' if partial else ''}, step {state['step']}/{total}"
        log.info("%s: train loss %s, eval loss %s", what, _fmt(loss), _fmt(ev))
        state["loss"], state["tokens"] = 0.0, 0

    log.info("training %s: %d records, %d steps (%d per epoch) on %s, base %s", cfg.name,
             len(train_data), total, per_epoch, device, base_dir)  # fmt: skip
    run_start, seen, ga = time.monotonic(), 0, cfg.grad_accum
    bar = tqdm(total=total, initial=state["step"], disable=not progress, unit="step",
               dynamic_ncols=True, desc=cfg.name)  # fmt: skip
    with logging_redirect_tqdm(), bar:
        while state["step"] < total:
            epoch = state["step"] // per_epoch
            if state["order_epoch"] != epoch:
                order = batch_order(lengths, cfg.batch_size, cfg.seed, epoch)
                state["order_epoch"], state["order"] = epoch, order
            order = state["order"]
            for first in range((state["step"] - epoch * per_epoch) * ga, len(order), ga):
                group = order[first : first + ga]
                n_tok = max(1, sum(_labelled(train_data, idx) for idx in group))
                opt.zero_grad(set_to_none=True)
                for idx in group:
                    ids, mask, labels = _collate(train_data, idx, pad_id, device)
                    with _autocast(device, bf16):
                        loss = _loss_sum(model, ids, mask, labels)
                    (loss / n_tok).backward()
                    state["loss"] += loss.item()
                    seen += int(mask.sum())
                torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
                lr = opt.param_groups[0]["lr"]
                opt.step()
                sched.step()
                state["step"] += 1
                state["tokens"] += n_tok
                bar.update(1)
                tok_s = seen / max(time.monotonic() - run_start, 1e-9)
                bar.set_postfix(loss=f"{state['loss'] / state['tokens']:.4f}", lr=f"{lr:.2e}",
                                tok_s=f"{tok_s:.0f}")  # fmt: skip
                if state["step"] % per_epoch == 0:
                    end_epoch(epoch, partial=False)
                step = state["step"]
                if step == total or (cfg.save_every and step % cfg.save_every == 0):
                    elapsed = state["elapsed"] + time.monotonic() - started
                    _save_checkpoint(out_dir_of(cfg) / "checkpoints", model, opt, sched,
                                     state | {"elapsed": elapsed})  # fmt: skip
                if step >= total:
                    break
        if state["tokens"]:
            end_epoch(state["step"] // per_epoch, partial=True)

    out_dir = out_dir_of(cfg)
    if bf16:  # half the size; vLLM computes LoRA in the served dtype anyway
        for p in params:
            p.data = p.data.to(torch.bfloat16)
    model.save_pretrained(out_dir, safe_serialization=True)
    for f in out_dir.iterdir():
        if f.is_file():
            f.chmod(0o644)  # the vLLM service may run as another user
    digest, files = base_model_digest(base_dir)
    last = state["history"][-1] if state["history"] else {}
    cpu = f"cpu ({torch.get_num_threads()} threads)"
    manifest = {
        "name": cfg.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base_model": base_dir.name,
        "base_model_sha256": digest,
        "base_model_files": files,
        "train_data": train_stats,
        "eval_data": eval_stats,
        "hyperparameters": dataclasses.asdict(cfg),
        "steps": state["step"],
        "steps_per_epoch": per_epoch,
        "train_loss": last.get("train_loss"),
        "eval_loss": last.get("eval_loss"),
        "history": state["history"],
        "duration_s": round(state["elapsed"] + time.monotonic() - started, 1),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu,
        "precision": "bf16" if bf16 else "fp32",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "peft": peft.__version__},
        "scores": {},
    }  # fmt: skip
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("adapter %s written to %s", cfg.name, out_dir)
    return out_dir


def out_dir_of(cfg: TrainConfig) -> Path:
    """The adapter directory of a run: ``<output_dir>/<name>``."""
    return cfg.path(cfg.output_dir) / cfg.name


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m finetune.train --config FILE [--set k=v ...] [--resume]``."""
    ap = argparse.ArgumentParser("python -m finetune.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "finetune.toml"), help="TOML file")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a [train] key (repeatable)")  # fmt: skip
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        out = train(load_config(args.config, args.overrides), resume=args.resume,
                    progress=not args.no_progress)  # fmt: skip
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
