"""Chat-format training data from labelled mail sets, with a content-stable train/eval split.

A record is ``{"messages": [system, user, assistant]}``: system and user come from
``appliance.extract.prompt.build_messages`` (the one production prompt) over the text the
extractor reads, the assistant turn is the label as the grounded, compact answer the
production schema lets the model give (``appliance.extract.choice.encode``: one-letter keys,
values chosen among the mail's own strings, unstated fields left out).

    python -m finetune.dataset build --set data/synth --set ../shared/data/dev/enron \\
        --eval-share 0.2 --seed 7 --out data/train

writes ``train.jsonl``, ``eval.jsonl``, ``eval_set/`` (``NNNN.eml`` + ``gold.jsonl`` of the
eval mails, for evaluation by extraction) and ``manifest.json`` (sha256 of every output file,
counts per source, eval share, seed). A mail lands on the eval side iff the hash of its
content is below ``eval_share``: whatever else is in the sets, it stays on its side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from appliance.extract import choice, grounding
from appliance.extract.contract import Offer
from appliance.extract.extractor import chunks, readable
from appliance.extract.grounding import FIELD_KEYS, KEYS
from appliance.extract.prompt import build_messages
from appliance.extract.rows import line_items, table_items
from appliance.preprocess import parse_mail

Entry = tuple[str, bytes, dict[str, Any]]  # (id, raw mail, label)
_EML = re.compile(r"^(\d+)\.eml$")


def chat_record(raw: bytes, label: dict[str, Any], *, max_input_chars: int = 6000) -> dict:
    """``{"messages": [system, user, assistant]}`` for one labelled mail, in the production
    format: the text the extractor reads (its first chunk), the prompt it sends, and as the
    answer the compact choice among that text's options that gives the label
    (``extract.choice.encode``).

    Raises ``ValueError`` when the label is not a complete offer of the contract (e.g. the wdc
    set, whose names are unlabelled and whose brands are lists of alternatives).
    """
    mail, piece, g, _ = _read(raw, max_input_chars)
    full = {k: v for k, v in label.items() if k not in ("message_id", "id", "notes")}
    full.setdefault("language", mail.language)
    try:
        Offer.model_validate(full)
    except Exception as exc:
        raise ValueError(f"label is not a complete offer: {exc}") from exc
    missing = [
        k
        for k in ("supplier", "items", "valid_until", "incoterms", "payment_terms")
        if k not in full
    ]
    if missing:
        raise ValueError(f"label lacks {', '.join(missing)}")
    messages = build_messages(mail, max_input_chars, piece)
    answer = json.dumps(choice.encode(full, g), ensure_ascii=False, separators=(",", ":"))
    return {"messages": [*messages, {"role": "assistant", "content": answer}]}


def _read(raw: bytes, max_input_chars: int) -> tuple[Any, str, grounding.Grounding, bool]:
    """The parsed mail, the text the model reads (first chunk), its grounding, and whether the
    extractor reads the mail's items without the model (a table or priced lines)."""
    mail = parse_mail(raw)
    text, cands = readable(mail)
    rows = table_items(text, grounding.single_currency(cands)) or line_items(text, cands)
    piece = (chunks(text, max_input_chars) or [""])[0]
    return mail, piece, grounding.build(piece, mail.subject), bool(rows)


def partial_record(raw: bytes, label: dict[str, Any], *, max_input_chars: int = 6000) -> dict:
    """A chat record for a partially labelled mail (one product; only some item fields
    labelled, e.g. ``train/wdc``: brand, sku, dimensions, weight). Fields the label does not
    carry are *not labelled*, not absent, so they are never taught. The answer names the
    product by the name option closest to the subject and states the labelled fields;
    ``ignore`` lists the answer's character ranges whose tokens the trainer does not learn:
    the name's value, and every place where an unlabelled field the schema offers could have
    been written (so leaving it out is not taught either). A list value means any listed value
    is right; a labelled value no option holds counts as unlabelled (the model could not
    write it).

    Raises ``ValueError`` when the mail cannot give such a record (not one product, no name
    option or no fact to choose, or no labelled value an option holds)."""
    items = label.get("items") or []
    if len(items) != 1 or not isinstance(items[0], dict):
        raise ValueError("a partial label must hold exactly one item")
    item = items[0]
    mail, piece, g, _ = _read(raw, max_input_chars)
    names = list(g.options.get("n", {}))
    if not names or not g.has_facts():
        raise ValueError("the model is not asked about this mail (no name or fact to choose)")
    labelled = {FIELD_KEYS[f] for f in item if f in FIELD_KEYS and f != "product_name"}
    subject = re.sub(r"^\W*\w+:\s*", "", mail.subject or "")  # "Offer: …" → "…"
    entry: dict[str, str] = {"n": max(names, key=lambda o: choice.name_overlap(o, subject))}
    for key in KEYS:
        gold = item.get(KEYS[key]) if key in labelled else None
        alts = [a for a in (gold if isinstance(gold, list) else [gold]) if a is not None]
        if not alts:
            continue
        hit = next(
            (
                text
                for text, cand in g.options.get(key, {}).items()
                if any(choice.same_value(KEYS[key], choice.typed_value(key, cand), a) for a in alts)
            ),
            None,
        )
        if hit is None:  # the model cannot write it: neither teach it nor its absence
            labelled.discard(key)
        else:
            entry[key] = hit
    if len(entry) == 1:
        raise ValueError("no labelled value can be chosen in this mail")
    answer, ignore = '{"i":[{', []
    unlabelled = [k for k in KEYS if k != "n" and k not in labelled and k in g.options]
    order = list(KEYS)
    keys = [k for k in order if k in entry]
    for i, key in enumerate(keys):
        if i:
            answer += ","
        answer += json.dumps(key) + ":"
        value = json.dumps(entry[key], ensure_ascii=False)
        if key == "n":
            ignore.append([len(answer), len(answer) + len(value)])
        answer += value
        after = keys[i + 1] if i + 1 < len(keys) else None
        gap = order[order.index(key) + 1 : order.index(after) if after else len(order)]
        if any(k in unlabelled for k in gap):  # an unlabelled field could be written here
            ignore.append([len(answer), len(answer) + 2])
    answer += "}]}"
    messages = build_messages(mail, max_input_chars, piece)
    return {
        "messages": [*messages, {"role": "assistant", "content": answer}],
        "ignore": ignore,
    }


def content_hash(raw: bytes) -> str:
    """sha256 of the parsed mail's subject and text (NFKC, whitespace collapsed): the same mail
    in two sets, re-encoded or re-wrapped, has one hash."""
    mail = parse_mail(raw)
    text = unicodedata.normalize("NFKC", f"{mail.subject}\n{mail.text}")
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _eval_side(chash: str, eval_share: float, seed: int) -> bool:
    h = hashlib.sha256(f"{seed}:{chash}".encode("ascii")).hexdigest()
    return int(h[:8], 16) / 2**32 < eval_share


def split(samples: list[Entry], *, eval_share: float, seed: int) -> tuple[list[Entry], list[Entry]]:
    """(train, eval): duplicates by ``content_hash`` dropped (the first kept), then a mail is in
    eval iff ``int(sha256(f"{seed}:{content_hash}")[:8], 16) / 2**32 < eval_share``. The side of
    a mail depends only on its content and the seed, never on the other mails."""
    seen: set[str] = set()
    train: list[Entry] = []
    held: list[Entry] = []
    for entry in samples:
        chash = content_hash(entry[1])
        if chash in seen:
            continue
        seen.add(chash)
        (held if _eval_side(chash, eval_share, seed) else train).append(entry)
    return train, held


def write_jsonl(records: Iterable[dict[str, Any]], path: Path) -> None:
    """One JSON object per line (UTF-8, non-ASCII kept)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")


def read_set(directory: Path) -> list[Entry]:
    """The ``(id, raw, label)`` of a set folder: ``NNNN.eml`` files in number order, line N of
    ``gold.jsonl`` labelling ``NNNN.eml``; the id is the label's ``id`` or ``<folder>-NNNN``."""
    directory = Path(directory)
    mails = sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := _EML.match(p.name)))
    lines = (directory / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    labels = [json.loads(x) for x in lines if x.strip()]
    if len(labels) != len(mails) or [n for n, _ in mails] != list(range(len(mails))):
        raise ValueError(
            f"{directory}: {len(mails)} mails numbered 0.. expected, {len(labels)} labels"
        )
    return [
        (str(lab.get("id") or f"{directory.name}-{n:04d}"), p.read_bytes(), lab)
        for (n, p), lab in zip(mails, labels, strict=True)
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(sets: list[Path], out: Path, *, eval_share: float, seed: int) -> dict[str, Any]:
    """Build train/eval files from labelled sets (see the module docstring); the manifest."""
    entries: list[Entry] = []
    source_of: dict[str, str] = {}
    skipped: Counter[str] = Counter()
    partial: Counter[str] = Counter()
    without_model: Counter[str] = Counter()
    records: dict[str, dict[str, Any]] = {}
    for folder in sets:
        name = Path(folder).resolve().name
        for ident, raw, label in read_set(folder):
            if _read(raw, 6000)[3]:  # items from a table or priced lines: no model call
                without_model[name] += 1
                continue
            try:
                records[ident + "\0" + name] = chat_record(raw, label)
            except ValueError:
                try:  # a partial label (e.g. train/wdc): only its labelled fields are taught
                    records[ident + "\0" + name] = partial_record(raw, label)
                    partial[name] += 1
                except ValueError:
                    skipped[name] += 1
                    continue
            entries.append((ident + "\0" + name, raw, label))
            source_of[ident + "\0" + name] = name
    train, held = split(entries, eval_share=eval_share, seed=seed)
    train_hashes = {content_hash(raw) for _, raw, _ in train}
    assert not any(content_hash(raw) in train_hashes for _, raw, _ in held), "eval leaks into train"
    order = list(train)
    random.Random(seed).shuffle(order)
    out = Path(out)
    write_jsonl((records[k] for k, _, _ in order), out / "train.jsonl")
    write_jsonl((records[k] for k, _, _ in held), out / "eval.jsonl")
    eval_dir = out / "eval_set"
    eval_dir.mkdir(parents=True, exist_ok=True)
    for old in eval_dir.glob("*.eml"):
        old.unlink()
    gold = []
    for i, (key, raw, label) in enumerate(held):
        (eval_dir / f"{i:04d}.eml").write_bytes(raw)
        ident, source = key.split("\0")
        gold.append(
            {
                "message_id": parse_mail(raw).message_id,
                **{k: v for k, v in label.items() if k != "message_id"},
                "id": ident,
                "source": source,
            }
        )
    write_jsonl(gold, eval_dir / "gold.jsonl")
    per_source: dict[str, dict[str, int]] = {}
    for side, rows in (("train", train), ("eval", held)):
        for key, _, _ in rows:
            per_source.setdefault(source_of[key], {"train": 0, "eval": 0})[side] += 1
    for name, count in skipped.items():
        per_source.setdefault(name, {"train": 0, "eval": 0})["skipped_unusable_label"] = count
    for name, count in without_model.items():
        per_source.setdefault(name, {"train": 0, "eval": 0})["read_without_model"] = count
    for name, count in partial.items():
        per_source.setdefault(name, {"train": 0, "eval": 0})["partial_labels"] = count
    n_in = len(entries)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {
        "seed": seed,
        "eval_share": eval_share,
        "sets": [str(s) for s in sets],
        "counts": {
            "train": len(train),
            "eval": len(held),
            "duplicates_dropped": n_in - len(train) - len(held),
        },
        "per_source": per_source,
        "eval_ids": [k.replace("\0", "@") for k, _, _ in held],
        "files": {str(p.relative_to(out)): _sha256(p) for p in files},
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    """CLI: ``build`` (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m finetune.dataset")
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="chat records + content-stable train/eval split")
    b.add_argument(
        "--set",
        dest="sets",
        type=Path,
        action="append",
        required=True,
        help="a folder of NNNN.eml + gold.jsonl (repeatable)",
    )
    b.add_argument("--eval-share", type=float, default=0.2)
    b.add_argument("--seed", type=int, default=7)
    b.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    manifest = build(args.sets, args.out, eval_share=args.eval_share, seed=args.seed)
    c = manifest["counts"]
    print(f"train {c['train']}  eval {c['eval']}  duplicates dropped {c['duplicates_dropped']}")
    for name, counts in manifest["per_source"].items():
        print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"wrote {args.out} (manifest.json lists {len(manifest['files'])} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
