"""Calibrate ``review.min_confidence``: how often a value below a threshold is wrong.

Usage::

    python tests/bench/confidence_calibration.py [--data DIR] [--limit N] [--concurrency N]
        [--out FILE] [--from FILE] [--thresholds 0.3,0.5,...]

Runs the real extractor (``extract.extractor.extract_offer``, the configured vLLM server:
``APPLIANCE_LLM__BASE_URL``) over the development mails (``<data>/dev/<set>/NNNN.eml`` with
``gold.jsonl``, the first ``--limit`` of each set) and saves, per mail, the stored offer, the
per-value confidences and the values the evidence check nulled (``--out``; ``--from`` re-reads
such a file instead of extracting again). Then it judges every stored value that has a
confidence against the label (``finetune.scoring``: items matched as in the scoring, a field is
judged only where the label has it; a value where the label says null, or of a predicted item no
label item matches, is wrong) and prints, per candidate threshold:

- flagged: values below the threshold, and the share of all judged values;
- precision: the share of flagged values that are wrong (how often a review is warranted);
- recall: the share of wrong values that are flagged;
- offers→review: the share of offers (mails with at least one item) with a flagged value,
  alone and together with the "not in the mail" reasons (``review.unfound_values = "review"``).

Not a test: it asserts nothing; it prints the table the default threshold was chosen from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `appliance` and `finetune` importable
    sys.path.insert(0, str(ROOT))

from appliance.extract.fields import OFFER_VALUES  # noqa: E402
from finetune.scoring import (  # noqa: E402
    ITEM_FIELDS,
    _alternatives,
    _item_labelled,
    _offer_value,
    is_null,
    match_items,
    values_equal,
)
from tests.bench.extract_dev import dev_data_dir, load_mails  # noqa: E402

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
OFFER_FIELDS = OFFER_VALUES


@dataclass(frozen=True)
class Judged:
    """One stored value with its confidence and whether the label agrees."""

    mail: str
    path: str
    confidence: float
    wrong: bool


async def _extract_all(mails: list[Any], concurrency: int) -> list[dict[str, Any]]:
    from appliance.extract.confidence import field_level
    from appliance.extract.extractor import extract_offer
    from appliance.extract.llm_client import LLMClient
    from appliance.settings import load_settings

    settings = load_settings()
    client = LLMClient(settings.llm)
    sem = asyncio.Semaphore(concurrency)
    done = 0

    async def one(m: Any) -> dict[str, Any]:
        nonlocal done
        where = f"{m.set_name}/{m.path.name}"
        async with sem:
            try:
                ex = await extract_offer(m.path.read_bytes(), settings, client)
                row = {
                    "mail": where, "gold": m.gold, "offer": ex.offer.model_dump(mode="json"),
                    "confidence": field_level(ex.confidence), "unfound": ex.unfound,
                }  # fmt: skip
            except Exception as exc:  # a failed extraction is reported, not judged
                row = {"mail": where, "gold": m.gold, "error": f"{type(exc).__name__}: {exc}"}
        done += 1
        print(f"[{done}/{len(mails)}] {where}", "error" if "error" in row else "", file=sys.stderr)
        return row

    try:
        return list(await asyncio.gather(*(one(m) for m in mails)))
    finally:
        await client.aclose()


def _wrong(name: str, pred: Any, gold: Any) -> bool:
    alts = _alternatives(name, gold)
    return not any(values_equal(name, pred, g) for g in alts)


def judge(row: dict[str, Any]) -> list[Judged]:
    """Every stored value of one result that has a confidence and a label, judged."""
    offer, gold, conf = row["offer"], row["gold"], row["confidence"]
    out: list[Judged] = []
    for name in OFFER_FIELDS:
        labelled, g = _offer_value(gold, name)
        if labelled and name in conf and not is_null(name, offer.get(name)):
            out.append(Judged(row["mail"], name, conf[name], _wrong(name, offer[name], g)))
    pred_items, gold_items = offer.get("items") or [], gold.get("items") or []
    pairs, lone_pred, _ = match_items(pred_items, gold_items)
    for i, j in pairs:
        for name in _item_labelled(gold_items[j]):
            path = f"items[{i}].{name}"
            if path in conf and not is_null(name, pred_items[i].get(name)):
                wrong = _wrong(name, pred_items[i][name], gold_items[j][name])
                out.append(Judged(row["mail"], path, conf[path], wrong))
    schema = _item_labelled(gold_items[0]) if gold_items else list(ITEM_FIELDS)
    for i in lone_pred:
        for name in schema:
            path = f"items[{i}].{name}"
            if path in conf and not is_null(name, pred_items[i].get(name)):
                out.append(Judged(row["mail"], path, conf[path], True))
    return out


def table(rows: list[dict[str, Any]], thresholds: tuple[float, ...]) -> str:
    """The calibration table (see the module docstring)."""
    ok = [r for r in rows if "offer" in r]
    offers = [r for r in ok if r["offer"].get("items")]
    judged = [j for r in ok for j in judge(r)]
    wrong = sum(j.wrong for j in judged)
    unfound = {r["mail"] for r in offers if r["unfound"]}
    unfound_items = {
        r["mail"] for r in offers if any(not p.startswith("supplier.") for p in r["unfound"])
    }
    lines = [
        f"mails {len(rows)}, extracted {len(ok)}, offers with items {len(offers)};"
        f" judged values {len(judged)}, wrong {wrong}"
        f" ({wrong / max(len(judged), 1):.0%})",
        f"offers with a value not in the mail: {len(unfound)}"
        f" ({len(unfound) / max(len(offers), 1):.0%});"
        f" without supplier.*: {len(unfound_items)}"
        f" ({len(unfound_items) / max(len(offers), 1):.0%})",
        "",
        f"{'threshold':>9} {'flagged':>12} {'precision':>9} {'recall':>7}"
        f" {'→review':>8} {'+unfound':>9} {'acc≥t':>6}",
    ]
    for t in thresholds:
        flagged = [j for j in judged if j.confidence < t]
        above = [j for j in judged if j.confidence >= t]
        hit = sum(j.wrong for j in flagged)
        low_mails = {j.mail for j in flagged}
        review = {r["mail"] for r in offers if r["mail"] in low_mails}
        both = review | unfound_items
        prec = f"{hit / len(flagged):.2f}" if flagged else "-"
        rec = f"{hit / wrong:.2f}" if wrong else "-"
        acc = f"{1 - sum(j.wrong for j in above) / len(above):.2f}" if above else "-"
        lines.append(
            f"{t:>9.2f} {len(flagged):>5} ({len(flagged) / max(len(judged), 1):>4.0%})"
            f" {prec:>9} {rec:>7} {len(review) / max(len(offers), 1):>8.0%}"
            f" {len(both) / max(len(offers), 1):>9.0%} {acc:>6}"
        )
    by_field: dict[str, list[Judged]] = {}
    for j in judged:
        by_field.setdefault(j.path.split(".")[-1], []).append(j)
    lines += ["", f"{'field':>15} {'n':>4} {'wrong':>5} {'mean conf right':>15} {'wrong':>6}"]
    for name, js in sorted(by_field.items()):
        right = [j.confidence for j in js if not j.wrong]
        bad = [j.confidence for j in js if j.wrong]
        mr = f"{sum(right) / len(right):.2f}" if right else "-"
        mb = f"{sum(bad) / len(bad):.2f}" if bad else "-"
        lines.append(f"{name:>15} {len(js):>4} {len(bad):>5} {mr:>15} {mb:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Extract (or re-read) the results and print the calibration table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data")
    ap.add_argument("--limit", type=int, default=10, help="mails per set (0 = all)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--out", type=Path, help="save the per-mail results (JSON lines)")
    ap.add_argument("--from", dest="source", type=Path, help="re-read saved results")
    ap.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)))
    args = ap.parse_args(argv)
    thresholds = tuple(float(x) for x in args.thresholds.split(","))
    if args.source:
        lines = args.source.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(ln) for ln in lines if ln.strip()]
    else:
        data_dir = dev_data_dir(args.data)
        mails = load_mails(data_dir, args.limit or None)
        if not mails:
            print(f"no development mails under {data_dir / 'dev'}", file=sys.stderr)
            return 0
        start = time.monotonic()
        rows = asyncio.run(_extract_all(mails, args.concurrency))
        print(f"{len(rows)} mails in {time.monotonic() - start:.0f} s", file=sys.stderr)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
            )
    print(table(rows, thresholds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
