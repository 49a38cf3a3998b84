"""Seeded generator of synthetic supplier mails with exact labels (training and held-out data).

``generate(n, seed)`` draws English and Russian offers (1–5 items from one product domain) and
writes each as a complete RFC 5322 mail: prose, bullets, "Key: value" lines, a plain-text or
HTML table, optionally inside a reply (quoted request below) or a forward; plain text, HTML or
multipart/alternative; UTF-8, KOI8-R or windows-1251. The label is built from the same drawn
values the text states, normalised like the extraction contract, and every sample is checked:
it validates as an ``Offer``, parses with ``parse_mail`` (language detected as drawn), and passes
``check_evidence`` unchanged, so each label value is readable in the text the model is given.

    python -m finetune.synth --n 600 --seed 7 --out data/synth
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.extract.contract import MAX_NAME, MAX_SHORT, MAX_TERMS, Offer
from appliance.extract.evidence import Evidence, check_evidence
from appliance.preprocess import parse_mail
from finetune.synth_compose import LAYOUTS, THREADS, Draft, compose

__all__ = [
    "LAYOUTS",
    "THREADS",
    "Sample",
    "SynthError",
    "generate",
    "iter_samples",
    "main",
    "summary",
    "write_set",
]


class SynthError(AssertionError):
    """A generated sample contradicts its label: a bug of the generator, never data."""


@dataclass(frozen=True)
class Sample:
    """One synthetic mail with its label.

    ``id`` is stable for (seed, index, language); ``raw`` the complete mail; ``label`` the offer
    in the contract's shape; ``meta`` what the generator drew (layout, thread, mime, charset,
    n_items, distractors, missing fields).
    """

    id: str
    raw: bytes
    label: dict[str, Any]
    meta: dict[str, Any]


def _check(draft: Draft) -> None:
    """Raise ``SynthError`` unless the label is valid and fully evidenced by the parsed mail."""
    label = draft.label
    try:
        offer = Offer.model_validate(label)
    except Exception as exc:
        raise SynthError(f"{draft.sample_id}: label does not validate: {exc}") from exc
    mail = parse_mail(draft.raw)
    where = f"{draft.sample_id} ({draft.meta['layout']}/{draft.meta['thread']})"
    if mail.language != label["language"]:
        raise SynthError(f"{where}: text detected as {mail.language!r}, drawn {label['language']}")
    if mail.from_addr != label["supplier"]["email"]:
        raise SynthError(f"{where}: From {mail.from_addr!r} is not the supplier e-mail")
    bounds = {"product_name": MAX_NAME, "sku": MAX_SHORT, "brand": MAX_SHORT, "unit": 12}
    for item in label["items"]:
        for key, limit in bounds.items():
            if item[key] is not None and len(item[key]) > limit:
                raise SynthError(f"{where}: {key} longer than {limit}: {item[key]!r}")
    for value, limit in (
        (label["payment_terms"], MAX_TERMS),
        (label["incoterms"], MAX_SHORT),
        (label["supplier"]["name"], MAX_TERMS),
    ):
        if value is not None and len(value) > limit:
            raise SynthError(f"{where}: {value!r} longer than {limit}")
    sender = f"{mail.from_name or ''} <{mail.from_addr or ''}>"
    ev = Evidence(mail.subject, sender, mail.text)
    kept, dropped = check_evidence(offer, ev)
    if dropped or kept.model_dump() != offer.model_dump():
        raise SynthError(f"{where}: not evidenced in the parsed text: {dropped}\n{mail.text}")
    for item in label["items"]:  # names as written, not just half of their words
        if not ev.has_string(item["product_name"]):
            raise SynthError(f"{where}: product name not in text: {item['product_name']!r}")


def iter_samples(
    n: int, seed: int, *, languages: tuple[str, ...] = ("en", "ru"), ru_share: float = 0.4
) -> Iterator[Sample]:
    """Yield the samples of ``generate`` one by one (see there)."""
    for lang in languages:
        if lang not in ("en", "ru"):
            raise ValueError(f"unsupported language: {lang!r}")
    master = random.Random(seed)
    for i in range(n):
        rng = random.Random(master.getrandbits(64))
        lang = languages[0]
        if len(languages) > 1:
            lang = "ru" if rng.random() < ru_share else "en"
        draft = compose(rng, lang, sample_id=f"syn-{lang}-{seed}-{i:06d}", seed=seed, index=i)
        _check(draft)
        yield Sample(id=draft.sample_id, raw=draft.raw, label=draft.label, meta=draft.meta)


def generate(
    n: int, seed: int, *, languages: tuple[str, ...] = ("en", "ru"), ru_share: float = 0.4
) -> list[Sample]:
    """``n`` checked samples drawn from ``random.Random(seed)`` (same seed, same bytes).

    Each sample has its own generator seeded from the master one, so the first k samples of
    ``generate(n, seed)`` are those of ``generate(k, seed)``. With both languages a sample is
    Russian with probability ``ru_share``; with one language all are in it. Raises
    ``SynthError`` when a sample contradicts its label (a generator bug).
    """
    return list(iter_samples(n, seed, languages=languages, ru_share=ru_share))


def write_set(samples: list[Sample], out_dir: Path) -> None:
    """Write ``NNNN.eml``, ``gold.jsonl`` (line N: label of NNNN.eml plus ``message_id`` and
    ``id``) and ``meta.jsonl``: the layout of the development sets."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(samples) - 1)))
    gold, meta = [], []
    for i, s in enumerate(samples):
        (out_dir / f"{i:0{width}d}.eml").write_bytes(s.raw)
        mail = parse_mail(s.raw)
        gold.append({"message_id": mail.message_id, "id": s.id, **s.label})
        meta.append({"id": s.id, **s.meta})
    for name, rows in (("gold.jsonl", gold), ("meta.jsonl", meta)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (out_dir / name).write_text(text, encoding="utf-8")


def summary(samples: list[Sample]) -> str:
    """Counts per language, layout, thread, MIME form and charset."""
    lines = [f"samples: {len(samples)}"]
    for key in ("language", "layout", "thread", "mime", "charset", "n_items"):
        counts = Counter(str(s.meta[key]) for s in samples)
        lines.append(f"{key}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    dist = Counter(d for s in samples for d in s.meta["distractors"])
    lines.append("distractors: " + ", ".join(f"{k} {v}" for k, v in sorted(dist.items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI: generate a set and write it (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="python -m finetune.synth", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--n", type=int, default=600, help="number of mails")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--languages", default="en,ru", help="comma-separated: en,ru")
    ap.add_argument("--ru-share", type=float, default=0.4)
    args = ap.parse_args(argv)
    langs = tuple(x.strip() for x in args.languages.split(",") if x.strip())
    started = time.monotonic()
    samples: list[Sample] = []
    step = max(1, args.n // 10)
    for sample in iter_samples(args.n, args.seed, languages=langs, ru_share=args.ru_share):
        samples.append(sample)
        if len(samples) % step == 0 or len(samples) == args.n:
            print(f"generated {len(samples)}/{args.n}", file=sys.stderr, flush=True)
    write_set(samples, args.out)
    took = time.monotonic() - started
    print(summary(samples))
    print(f"wrote {args.out} in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
