"""Benchmark the real ``appliance extract`` CLI on the development mail sets and score it.

Usage::

    python tests/bench/extract_dev.py [--data DIR] [--concurrency N] [--limit N] [--out FILE]
                                      [--code-root DIR] [--no-samples]

The data folder comes from ``--data``, else the configured ``paths.dev_data`` (environment
``APPLIANCE_PATHS__DEV_DATA``, default ``../shared/data`` from the project root). Every
``<data>/dev/<set>/gold.jsonl`` is read; its line N labels ``<data>/dev/<set>/NNNN.eml``. The
project's own sample mails (``tests/data/samples/gold.jsonl``, whose lines name their file) are
the set ``samples``. Each set goes through one ``python -m appliance.cli extract`` run (so the
vLLM server named by ``APPLIANCE_LLM__BASE_URL`` must be up); the script prints, per set and
overall, the mails, valid results, errors by code, throughput, prompt and completion tokens per
mail (read from the vLLM server's ``/metrics`` before and after the set: keep other clients off
it), values stated nowhere in the mail ("invented", checked against the raw mail's decoded text
by ``appliance.extract.evidence.locate``) and the field-level scoring table of
``finetune.scoring`` (its ``unstated`` column: values given for a field the label says the mail
does not state).

``--code-root DIR`` runs the CLI of another checkout (e.g. a ``git worktree`` of an older
commit) with this script's scoring, so today's and an older extractor are measured the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `appliance` and `finetune` importable
    sys.path.insert(0, str(ROOT))

from finetune.scoring import Report, score  # noqa: E402

DEFAULT_CONCURRENCY = 8
SAMPLES = ROOT / "tests" / "data" / "samples"
NO_OUTPUT = "no_output"  # the CLI printed no line for the mail (crash or timeout)
SCHEMA_INVALID = "schema_invalid"  # a result that does not validate as an Offer


@dataclass
class Mail:
    """One development mail and its label."""

    set_name: str
    path: Path
    gold: dict[str, Any]

    @property
    def is_offer(self) -> bool:
        """Whether the label holds at least one item."""
        return bool(self.gold.get("items"))


@dataclass
class Run:
    """What one CLI run gave for a list of mails."""

    mails: list[Mail]
    outputs: dict[Path, dict[str, Any]]
    seconds: float
    concurrency: int
    returncode: int
    stderr: str = ""
    invalid: dict[Path, str] = field(default_factory=dict)  # schema errors of printed results

    def prediction(self, mail: Mail) -> dict[str, Any] | None:
        """The mail's schema-valid result, or ``None`` (error, no output, invalid result)."""
        line = self.outputs.get(mail.path.resolve())
        if line is None or mail.path.resolve() in self.invalid:
            return None
        result = line.get("result")
        return result if isinstance(result, dict) else None

    def error_code(self, mail: Mail) -> str | None:
        """Why the mail has no valid result (``None`` when it has one)."""
        key = mail.path.resolve()
        line = self.outputs.get(key)
        if line is None:
            return NO_OUTPUT
        if "error" in line:
            err = line["error"]
            return str(err.get("code", "error")) if isinstance(err, dict) else "error"
        if key in self.invalid or not isinstance(line.get("result"), dict):
            return SCHEMA_INVALID
        return None

    tokens: dict[str, float] = field(default_factory=dict)  # vLLM counters' growth in the run

    def subset(self, set_name: str) -> list[Mail]:
        """The run's mails of one set."""
        return [m for m in self.mails if m.set_name == set_name]


def dev_data_dir(explicit: str | Path | None = None) -> Path:
    """``explicit``, else the configured ``paths.dev_data`` (env, config file, default)."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    try:
        from appliance.settings import load_settings

        s = load_settings()
        return s.paths.resolve(s.paths.dev_data)
    except Exception:  # a broken config must not hide the default location
        env = os.environ.get("APPLIANCE_PATHS__DEV_DATA")
        p = Path(env) if env else Path("../shared/data")
        return p if p.is_absolute() else (ROOT / p).resolve()


def load_mails(data_dir: Path, limit: int | None = None) -> list[Mail]:
    """Mails of every ``<data>/dev/<set>/gold.jsonl`` (at most ``limit`` per set), sets sorted."""
    mails: list[Mail] = []
    for gold_file in sorted((data_dir / "dev").glob("*/gold.jsonl")):
        set_dir = gold_file.parent
        lines = [ln for ln in gold_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        for i, line in enumerate(lines[:limit] if limit else lines):
            eml = set_dir / f"{i:04d}.eml"
            if not eml.is_file():
                print(f"warning: {eml} is missing; its label is skipped", file=sys.stderr)
                continue
            mails.append(Mail(set_dir.name, eml, json.loads(line)))
    return mails


def load_samples(folder: Path = SAMPLES) -> list[Mail]:
    """The project's own sample mails with their labels (each ``gold.jsonl`` line names its
    file), as the set ``samples``."""
    gold = folder / "gold.jsonl"
    if not gold.is_file():
        return []
    out = []
    for line in gold.read_text(encoding="utf-8").splitlines():
        if line.strip():
            label = json.loads(line)
            out.append(Mail("samples", folder / label["file"], label))
    return out


_TOKEN_METRICS = {
    "prompt": "vllm:prompt_tokens_total",
    "completion": "vllm:generation_tokens_total",
    "requests": "vllm:request_success_total",
}


def vllm_counters(base_url: str | None) -> dict[str, float]:
    """The vLLM server's token and request counters (summed over labels); empty when its
    ``/metrics`` cannot be read."""
    import httpx

    if not base_url:
        return {}
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        text = httpx.get(f"{root}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        for key, name in _TOKEN_METRICS.items():
            if line.startswith(name + "{") or line.startswith(name + " "):
                out[key] = out.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def invented_values(mail: Mail, result: dict[str, Any] | None) -> list[str]:
    """Paths of ``result`` whose value the mail states nowhere (subject, sender, body)."""
    from appliance.extract.evidence import locate
    from appliance.preprocess import parse_mail

    if not result:
        return []
    parsed = parse_mail(mail.path.read_bytes(), max_bytes=50_000_000, max_parts=500,
                        max_text_chars=1_000_000)  # fmt: skip
    # The whole body: the extractor reads a quoted or forwarded offer when the mail's own text
    # states no figure (extract.extractor.readable).
    parts = [parsed.subject, parsed.from_name or "", parsed.from_addr or "", parsed.body_text]
    text = "\n".join(parts)
    out = []
    for key in ("valid_until", "incoterms", "payment_terms"):
        value = result.get(key)
        if value is not None and key != "valid_until" and locate(key, value, text) is None:
            out.append(key)
    for i, item in enumerate(result.get("items") or []):
        for key, value in item.items():
            if value is None or key == "extra":
                continue
            if locate(key, value, text) is None:
                out.append(f"items[{i}].{key}")
    return out


def _validate(result: Any) -> str | None:
    from pydantic import ValidationError

    from appliance.extract.contract import Offer

    try:
        Offer.model_validate(result)
    except ValidationError as exc:
        return str(exc)
    return None


def run_cli(
    mails: list[Mail],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    base_url: str | None = None,
    timeout: float = 3600.0,
    code_root: Path = ROOT,
    model: str | None = None,
) -> Run:
    """Run ``python -m appliance.cli extract`` (of the checkout ``code_root``) over ``mails``
    and collect its JSON lines."""
    env = dict(os.environ)
    if base_url:
        env["APPLIANCE_LLM__BASE_URL"] = base_url
    if model:
        env["APPLIANCE_LLM__MODEL"] = model
    env["PYTHONPATH"] = str(code_root)
    cmd = [sys.executable, "-m", "appliance.cli", "extract", "--concurrency", str(concurrency)]
    cmd += [str(m.path.resolve()) for m in mails]
    before = vllm_counters(env.get("APPLIANCE_LLM__BASE_URL"))
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=code_root, env=env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
        stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr = f"timed out after {timeout:.0f} s"
        rc = -1
    seconds = time.monotonic() - start
    outputs: dict[Path, dict[str, Any]] = {}
    for raw in stdout.splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict) and "file" in line:
            outputs[Path(line["file"]).resolve()] = line
    run = Run(mails, outputs, seconds, concurrency, rc, stderr)
    after = vllm_counters(env.get("APPLIANCE_LLM__BASE_URL"))
    run.tokens = {k: after[k] - before.get(k, 0.0) for k in after}
    for key, line in outputs.items():
        if "result" in line:
            problem = _validate(line["result"])
            if problem:
                run.invalid[key] = problem
    return run


def summarise(name: str, runs: list[Run], set_name: str | None = None) -> tuple[dict, Report]:
    """Figures of one set (``set_name``) or of all mails of ``runs``, plus its scoring report."""
    pairs = []
    errors: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    invented: list[str] = []
    seconds = 0.0
    n = 0
    for run in runs:
        mails = run.mails if set_name is None else run.subset(set_name)
        if not mails:
            continue
        seconds += run.seconds
        n += len(mails)
        tokens.update(run.tokens)
        for m in mails:
            pred = run.prediction(m)
            pairs.append((pred, m.gold))
            invented += [f"{m.set_name}/{m.path.name}:{p}" for p in invented_values(m, pred)]
            code = run.error_code(m)
            if code:
                errors[code] += 1
    report = score(pairs)
    summary = {
        "set": name,
        "mails": n,
        "valid": report.n_valid,
        "errors": dict(sorted(errors.items())),
        "seconds": round(seconds, 2),
        "mails_per_s": round(n / seconds, 3) if seconds else None,
        "concurrency": runs[0].concurrency if runs else None,
        "s_per_mail": round(seconds / n, 2) if n else None,
        "prompt_tokens_per_mail": round(tokens["prompt"] / n, 1) if tokens and n else None,
        "completion_tokens_per_mail": round(tokens["completion"] / n, 1) if tokens and n else None,
        "llm_requests": int(tokens["requests"]) if tokens else None,
        "invented": invented,
        "scores": report.as_dict(),
    }
    return summary, report


def format_summary(summary: dict, report: Report) -> str:
    """The printed block of one set: a headline, then the scoring table."""
    errs = ", ".join(f"{k}={v}" for k, v in summary["errors"].items()) or "none"
    head = (
        f"== {summary['set']}: {summary['mails']} mails, {summary['valid']} valid results, "
        f"errors: {errs}; {summary['seconds']:.1f} s, {summary['mails_per_s']} mails/s "
        f"at concurrency {summary['concurrency']}\n"
        f"   tokens per mail: prompt {summary['prompt_tokens_per_mail']}, completion "
        f"{summary['completion_tokens_per_mail']} ({summary['llm_requests']} LLM requests); "
        f"invented values (stated nowhere in the mail): {len(summary['invented'])}"
    )
    shown = "".join(f"\n     {p}" for p in summary["invented"][:12])
    return f"{head}{shown}\n{report.table()}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 0 also when the data folder is absent (nothing to do)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="data folder holding dev/<set>/ (default: paths.dev_data)")
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    p.add_argument("--limit", type=int, default=None, help="first N mails of each set")
    p.add_argument("--out", help="also write the JSON report to this file")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per CLI run")
    p.add_argument("--code-root", default=str(ROOT), help="checkout whose CLI to run")
    p.add_argument("--no-samples", action="store_true", help="leave out tests/data/samples")
    a = p.parse_args(argv)

    data_dir = dev_data_dir(a.data)
    mails = load_mails(data_dir, a.limit)
    if not mails:
        print(f"no development mail sets under {data_dir / 'dev'}: scoring the samples only")
    if not a.no_samples:
        mails += load_samples()[: a.limit] if a.limit else load_samples()
    if not mails:
        print(
            f"no development mail sets under {data_dir / 'dev'} (expected <set>/gold.jsonl); "
            "pass --data or set APPLIANCE_PATHS__DEV_DATA. Nothing to do."
        )
        return 0
    set_names = sorted({m.set_name for m in mails})
    base_url = os.environ.get("APPLIANCE_LLM__BASE_URL", "(configured default)")
    print(f"data: {data_dir}  LLM: {base_url}  concurrency: {a.concurrency}\n", flush=True)

    runs: list[Run] = []
    blocks: list[dict] = []
    for name in set_names:
        run = run_cli(
            [m for m in mails if m.set_name == name], concurrency=a.concurrency,
            timeout=a.timeout, code_root=Path(a.code_root).resolve(),
        )  # fmt: skip
        runs.append(run)
        if run.returncode not in (0, 1):  # 1 = some mails failed, which the report shows
            tail = "\n".join(run.stderr.strip().splitlines()[-15:])
            print(f"warning: the CLI exited with {run.returncode} on {name}:\n{tail}\n")
        summary, report = summarise(name, runs, name)
        blocks.append(summary)
        print(format_summary(summary, report), flush=True)

    overall, report = summarise("overall", runs)
    print(format_summary(overall, report))

    if a.out:
        doc = {
            "data_dir": str(data_dir),
            "base_url": base_url,
            "concurrency": a.concurrency,
            "limit": a.limit,
            "sets": blocks,
            "overall": overall,
            "mails": [
                {
                    "set": m.set_name,
                    "file": m.path.name,
                    "error": run.error_code(m),
                    "result": run.prediction(m),
                    "gold": m.gold,
                }
                for run in runs
                for m in run.mails
            ],
        }
        Path(a.out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"report written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
