"""Evaluate the base model and LoRA adapters on held-out mail sets, the way production extracts.

Each mail goes through ``appliance.extract.extractor.extract_offer`` against the running vLLM
server (the same prompt, JSON-schema constrained decoding, normalisation and evidence check as
the appliance), with the model named per run: the base model or an adapter, loaded into vLLM
through its runtime LoRA API when needed. Predictions are scored field by field with
``finetune.scoring`` (items matched first; numbers normalised; names by token overlap).

    python -m finetune.evaluate --set data/train/eval_set --model base --model offers-2026-11

prints one table per set (P/R/F1 per field for each model, micro overall, schema-valid share)
and, with ``--write``, stores each model's scores: in the adapter's ``manifest.json`` under
``scores[<set key>]``, and for the base model in ``models/adapters/base-scores.json``.
``appliance adapters promote`` gates on these.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from appliance import adapters
from appliance.errors import ApplianceError
from appliance.extract.extractor import extract_offer
from appliance.extract.llm_client import LLMClient
from appliance.settings import Settings, load_settings
from finetune.scoring import Report, score

BASE = "base"


def read_eval_set(path: Path, limit: int = 0) -> list[tuple[str, bytes, dict[str, Any]]]:
    """``NNNN.eml`` + ``gold.jsonl`` (line N labels ``NNNN.eml``) as (name, raw, gold)."""
    gold_lines = (path / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(gold_lines):
        if not line.strip():
            continue
        eml = path / f"{i:04d}.eml"
        if not eml.is_file():
            raise FileNotFoundError(f"{eml} missing for line {i + 1} of {path / 'gold.jsonl'}")
        out.append((eml.name, eml.read_bytes(), json.loads(line)))
        if limit and len(out) >= limit:
            break
    if not out:
        raise ValueError(f"{path}: no labelled mails (NNNN.eml + gold.jsonl)")
    return out


def set_key(path: Path, mails: list[tuple[str, bytes, dict[str, Any]]]) -> str:
    """``<folder>-<12 hex>``: the same mails and labels give the same key on any machine."""
    h = hashlib.sha256()
    for name, raw, gold in mails:
        h.update(name.encode() + hashlib.sha256(raw).digest())
        h.update(json.dumps(gold, sort_keys=True, ensure_ascii=False).encode())
    return f"{path.name}-{h.hexdigest()[:12]}"


def summary(report: Report) -> dict[str, Any]:
    """What a manifest keeps of a report: micro P/R/F1, valid share, counts, per-field F1."""
    return {
        "f1": report.f1(), "precision": report.precision(), "recall": report.recall(),
        "valid_share": report.valid_share, "n": report.n,
        "fields": {f: report.f1(f) for f in report.fields()},
    }  # fmt: skip


async def predict(
    settings: Settings, model: str, mails: list[tuple[str, bytes, dict[str, Any]]],
    concurrency: int,
) -> list[dict[str, Any] | None]:  # fmt: skip
    """The production extraction of every mail with ``model`` (None where it failed)."""
    limit = asyncio.Semaphore(concurrency)
    client = LLMClient(settings.llm)
    done = 0
    t0 = time.monotonic()

    async def one(raw: bytes) -> dict[str, Any] | None:
        nonlocal done
        async with limit:
            try:
                ex = await extract_offer(raw, settings, client, model=model)
                return ex.offer.model_dump(mode="json")
            except ApplianceError:
                return None
            finally:
                done += 1
                rate = done / max(time.monotonic() - t0, 1e-6)
                eta = (len(mails) - done) / rate if rate else 0
                print(f"\r  {model}: {done}/{len(mails)} mails, ETA {eta:.0f}s   ", end="",
                      file=sys.stderr, flush=True)  # fmt: skip

    try:
        return list(await asyncio.gather(*(one(raw) for _, raw, _ in mails)))
    finally:
        print(file=sys.stderr)
        await client.aclose()


def comparison_table(reports: dict[str, Report]) -> str:
    """Fields as rows, one P/R/F1 column group per model, then overall and valid share."""
    names = list(reports)
    fields: list[str] = []
    for r in reports.values():
        fields += [f for f in r.fields() if f not in fields]

    def fmt(x: float | None) -> str:
        return "    -" if x is None else f"{x:5.3f}"

    head = f"{'field':<16}" + "".join(f" | {n[:22]:^22}" for n in names)
    sub = f"{'':<16}" + "".join(f" | {'P':>6} {'R':>6} {'F1':>6} " for _ in names)
    lines = [head, sub, "-" * len(sub)]
    for f in fields:
        cells = "".join(
            f" | {fmt(r.precision(f)):>6} {fmt(r.recall(f)):>6} {fmt(r.f1(f)):>6} "
            for r in reports.values()
        )
        support = max(r.field_counts(f).support for r in reports.values())
        lines.append(f"{f:<16}{cells}  (support {support})")
    lines.append("-" * len(sub))
    lines.append(f"{'overall':<16}" + "".join(
        f" | {fmt(r.precision()):>6} {fmt(r.recall()):>6} {fmt(r.f1()):>6} "
        for r in reports.values()))  # fmt: skip
    lines.append(f"{'valid share':<16}" + "".join(
        f" | {fmt(r.valid_share):>20} " for r in reports.values()))  # fmt: skip
    return "\n".join(lines)


def write_scores(settings: Settings, model: str, key: str, report: Report) -> Path:
    """Store a model's scores on one set where ``appliance adapters`` reads them."""
    root = adapters.adapters_dir(settings)
    if model == BASE:
        path = root / "base-scores.json"
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.setdefault(settings.llm.model, {})[key] = summary(report)
    else:
        path = root / model / "manifest.json"
        data = json.loads(path.read_text())
        data.setdefault("scores", {})[key] = summary(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    tmp.replace(path)
    return path


def evaluate(
    settings: Settings, sets: list[Path], models: list[str], *, limit: int = 0,
    concurrency: int = 8, write: bool = False,
) -> dict[str, dict[str, Report]]:  # fmt: skip
    """Score every model on every set; returns ``{set key: {model: Report}}``."""
    out: dict[str, dict[str, Report]] = {}
    for model in models:
        if model != BASE:
            adapters.manifest(settings, model)  # safetensors only, complete
            adapters.load_into_vllm(settings, model)
    for path in sets:
        mails = read_eval_set(path, limit)
        key = set_key(path, mails)
        print(f"set {key}: {len(mails)} mails", file=sys.stderr)
        reports: dict[str, Report] = {}
        for model in models:
            served = settings.llm.model if model == BASE else model
            t0 = time.monotonic()
            preds = asyncio.run(predict(settings, served, mails, concurrency))
            reports[model] = score(zip(preds, [g for _, _, g in mails], strict=True))
            print(f"  {model}: {time.monotonic() - t0:.0f}s", file=sys.stderr)
            if write:
                write_scores(settings, model, key, reports[model])
        out[key] = reports
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--set", action="append", required=True, type=Path, help="NNNN.eml + gold.jsonl")
    p.add_argument("--model", action="append", default=[],
                   help=f"'{BASE}' or an adapter name in models/adapters (repeatable)")  # fmt: skip
    p.add_argument("--limit", type=int, default=0, help="first N mails of each set (0: all)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--write", action="store_true", help="store the scores for the promotion gate")
    p.add_argument("--json", type=Path, help="also write every report as JSON here")
    p.add_argument("--config", help="appliance TOML config (default: built-in + APPLIANCE_*)")
    a = p.parse_args(argv)
    settings = load_settings(a.config)
    results = evaluate(settings, a.set, a.model or [BASE], limit=a.limit,
                       concurrency=a.concurrency, write=a.write)  # fmt: skip
    for key, reports in results.items():
        print(f"\n== {key} ==")
        print(comparison_table(reports))
    if a.json:
        a.json.write_text(
            json.dumps(
                {k: {m: r.as_dict() for m, r in v.items()} for k, v in results.items()}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
