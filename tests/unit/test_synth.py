"""The synthetic mail generator (``finetune.synth``) and the chat dataset (``finetune.dataset``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from appliance.extract import choice, grounding
from appliance.extract.contract import Offer
from appliance.extract.evidence import Evidence, check_evidence
from appliance.extract.extractor import chunks, readable
from appliance.extract.prompt import SYSTEM_PROMPT
from appliance.preprocess import parse_mail
from finetune.dataset import chat_record, content_hash, partial_record, read_set, split
from finetune.scoring import score, token_jaccard
from finetune.synth import LAYOUTS, THREADS, Sample, generate, main, write_set


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return generate(300, seed=11)


def _cyrillic(text: str) -> int:
    return sum("\u0400" <= c <= "\u04ff" for c in text)


def test_same_seed_same_bytes_other_seed_other_mails() -> None:
    a, b, c = generate(25, seed=3), generate(25, seed=3), generate(25, seed=4)
    assert [s.raw for s in a] == [s.raw for s in b]
    assert [s.label for s in a] == [s.label for s in b]
    assert [s.raw for s in a] != [s.raw for s in c]
    assert [s.raw for s in generate(10, seed=3)] == [s.raw for s in a[:10]]  # prefix-stable


def test_labels_validate_and_survive_the_evidence_check(samples: list[Sample]) -> None:
    assert Counter(s.label["language"] for s in samples).keys() == {"en", "ru"}
    for s in samples:
        offer = Offer.model_validate(s.label)
        mail = parse_mail(s.raw)
        assert mail.language == s.label["language"] == s.meta["language"]
        assert mail.from_addr == s.label["supplier"]["email"]
        assert 1 <= len(s.label["items"]) <= 5
        ev = Evidence(mail.subject, f"{mail.from_name or ''} <{mail.from_addr}>", mail.text)
        kept, dropped = check_evidence(offer, ev)
        assert dropped == [], (s.id, dropped)
        assert kept.model_dump() == offer.model_dump(), s.id


def test_totals_are_quantity_times_price(samples: list[Sample]) -> None:
    for s in samples:
        for item in s.label["items"]:
            if item["total_price"] is not None:
                assert item["total_price"] == round(item["quantity"] * item["unit_price"], 2)


def test_all_layouts_threads_and_languages_occur(samples: list[Sample]) -> None:
    meta = [s.meta for s in samples]
    assert {m["layout"] for m in meta} == set(LAYOUTS)
    assert {m["thread"] for m in meta} == set(THREADS)
    assert {m["mime"] for m in meta} == {"plain", "html", "alt", "alt_stub"}
    assert {m["charset"] for m in meta} == {"utf-8", "koi8-r", "windows-1251"}
    assert {m["n_items"] for m in meta} == {1, 2, 3, 4, 5}
    assert {"shipping", "vat", "discount", "quoted_request"} <= {
        d for m in meta for d in m["distractors"]
    }
    missing = Counter(f for m in meta for f in m["missing"])
    assert missing["unit_price"] and missing["lead_time_days"] and missing["valid_until"]


def test_html_and_legacy_charsets_parse_to_cyrillic(samples: list[Sample]) -> None:
    ru = [s for s in samples if s.meta["language"] == "ru"]
    for charset in ("koi8-r", "windows-1251"):
        picked = [s for s in ru if s.meta["charset"] == charset]
        assert picked
        for s in picked:
            assert f'charset="{charset}"'.encode() in s.raw
            assert _cyrillic(parse_mail(s.raw).text) > 50
    html = [s for s in ru if s.meta["mime"] in ("html", "alt_stub")]
    assert html
    for s in html:
        mail = parse_mail(s.raw)
        assert "html converted" in mail.warnings
        assert _cyrillic(mail.text) > 50


def test_write_set_reads_back_and_scores_perfectly(tmp_path: Path) -> None:
    few = generate(12, seed=5)
    write_set(few, tmp_path)
    entries = read_set(tmp_path)
    assert [raw for _, raw, _ in entries] == [s.raw for s in few]
    assert [i for i, _, _ in entries] == [s.id for s in few]
    gold = [lab for _, _, lab in entries]
    assert all(
        g["message_id"] == parse_mail(s.raw).message_id for g, s in zip(gold, few, strict=True)
    )
    report = score((g, g) for g in gold)
    assert report.f1() == 1.0
    meta = [json.loads(x) for x in (tmp_path / "meta.jsonl").read_text().splitlines()]
    assert [m["id"] for m in meta] == [s.id for s in few]


def test_cli_writes_the_same_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--n", "6", "--seed", "9", "--out", str(tmp_path)]) == 0
    assert "layout:" in capsys.readouterr().out
    assert [(tmp_path / f"{i:04d}.eml").read_bytes() for i in range(6)] == [
        s.raw for s in generate(6, seed=9)
    ]


def test_chat_record_uses_the_production_prompt_and_the_grounded_answer(
    samples: list[Sample],
) -> None:
    named = 0
    for s in samples[:40]:
        rec = chat_record(s.raw, {**s.label, "id": s.id, "message_id": "<x@y>"})
        system, user, assistant = rec["messages"]
        assert system == {"role": "system", "content": SYSTEM_PROMPT}
        assert user["role"] == "user" and user["content"].startswith("<mail>\nSubject: ")
        answer = json.loads(assistant["content"])
        assert assistant["content"] == json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        # Exactly what the mail's grounded schema lets the model write, and it decodes back to
        # the label's values.
        mail = parse_mail(s.raw)
        text, _ = readable(mail)
        g = grounding.build((chunks(text, 6000) or [""])[0], mail.subject)
        jsonschema.validate(answer, grounding.schema(g))
        decoded = choice.decode(answer, g).items
        assert len(decoded) <= len(s.label["items"])
        for got in decoded:
            name = got["product_name"]
            gold = max(s.label["items"], key=lambda i, n=name: token_jaccard(i["product_name"], n))
            for field in ("quantity", "unit_price", "total_price", "lead_time_days"):
                if field in got:
                    assert got[field] == pytest.approx(gold[field]), (field, got, gold)
        named += len(decoded)
    assert named >= 40  # most labelled items are named by an option of their mail


def test_chat_record_rejects_partial_labels(samples: list[Sample]) -> None:
    partial = {"items": [{"product_name": None, "brand": ["A", "B"], "sku": ["1"]}]}
    with pytest.raises(ValueError):
        chat_record(samples[0].raw, partial)


_PARTIAL_MAIL = (
    b"From: Shop <sales@shop.example>\r\nTo: buyer@example.com\r\n"
    b"Subject: Offer: Acme Label Maker LM-200\r\nMessage-ID: <p1@shop.example>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello,\r\n\r\nplease find our offer below.\r\n\r\n"
    b"Acme Label Maker LM-200, SKU: ACM-LM200, Brand: Acme. Price: 49.90 USD.\r\n"
    b"Prints labels up to 24 mm wide.\r\n\r\nBest regards,\r\nShop\r\n"
)


def test_partial_labels_teach_only_what_is_labelled() -> None:
    label = {
        "items": [
            {"product_name": None, "brand": ["ACME", "Acme"], "sku": ["ACM-LM200"],
             "dimensions": None, "weight": None}
        ]
    }  # fmt: skip
    rec = partial_record(_PARTIAL_MAIL, label)
    answer = rec["messages"][-1]["content"]
    data = json.loads(answer)
    mail = parse_mail(_PARTIAL_MAIL)
    g = grounding.build((chunks(readable(mail)[0], 6000) or [""])[0], mail.subject)
    jsonschema.validate(data, grounding.schema(g))
    item = data["i"][0]
    assert item["k"] == "ACM-LM200" and item["b"].casefold() == "acme"
    assert "p" not in item and "p" in g.options  # the price is stated but not labelled ...
    ignored = [answer[a:b] for a, b in rec["ignore"]]
    assert ignored[0] == json.dumps(item["n"])  # ... the name is not learnt ...
    assert ignored[-1] == "}]"  # ... nor is leaving the price out
    # A labelled value no option holds is not taught either way; no labelled value: no record.
    other = {"items": [{**label["items"][0], "brand": ["Zebra"]}]}
    assert (
        "b"
        not in json.loads(partial_record(_PARTIAL_MAIL, other)["messages"][-1]["content"])["i"][0]
    )
    with pytest.raises(ValueError):
        partial_record(_PARTIAL_MAIL, {"items": [{"product_name": None, "brand": ["Zebra"]}]})
    with pytest.raises(ValueError):
        partial_record(_PARTIAL_MAIL, {"items": []})


def test_split_is_stable_dedups_and_never_leaks(samples: list[Sample]) -> None:
    entries = [(s.id, s.raw, s.label) for s in samples[:120]]
    train, held = split(entries, eval_share=0.25, seed=7)
    assert 10 < len(held) < 60 and len(train) + len(held) == 120
    train_hashes = {content_hash(raw) for _, raw, _ in train}
    assert not any(content_hash(raw) in train_hashes for _, raw, _ in held)
    # More mails (and a duplicate of an eval mail under another id): every side stays put.
    others = [(s.id, s.raw, s.label) for s in generate(30, seed=99)]
    dup = ("copy", held[0][1], held[0][2])
    train2, held2 = split([*others, dup, *entries], eval_share=0.25, seed=7)
    ids2 = {i for i, _, _ in held2}
    assert {i for i, _, _ in held} - ids2 == {held[0][0]}  # the first copy wins
    assert "copy" in ids2 and not {i for i, _, _ in train} - {i for i, _, _ in train2}
    assert len(train2) + len(held2) == 150
