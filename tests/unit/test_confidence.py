"""Token log-probabilities → per-value confidence, on token lists built by hand in the shapes
vLLM returns (``choices[0].logprobs.content``: token, logprob, bytes)."""

from __future__ import annotations

import json
import math

import pytest

from appliance.extract.confidence import (
    field_level,
    leaf_values,
    remap_items,
    tokens_of,
    value_confidence,
    value_ranges,
)
from appliance.extract.contract import Supplier, item_origins, normalise_offer
from appliance.extract.evidence import Evidence, check_evidence, kept_items, unfound_values


def _toks(*pairs: tuple[str, float]) -> list[tuple[bytes, float]]:
    """Tokens as vLLM lists them (the bytes field given)."""
    return tokens_of(
        [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
         for t, lp in pairs]
    )  # fmt: skip


def _geo(*lps: float) -> float:
    return math.exp(sum(lps) / len(lps))


def _text(tokens: list[tuple[bytes, float]]) -> str:
    return b"".join(t for t, _ in tokens).decode()


def test_multi_token_number_is_the_geometric_mean_of_its_tokens() -> None:
    toks = _toks(('{"', -0.1), ("price", -0.2), ('":', 0.0), ("1", -0.5), ("2", -1.0),
                 (".", -0.25), ("5", -0.75), ("}", -0.3))  # fmt: skip
    conf = value_confidence(_text(toks), toks)
    assert conf == {"price": pytest.approx(_geo(-0.5, -1.0, -0.25, -0.75))}


def test_string_quotes_do_not_count_unless_a_token_joins_them_to_the_content() -> None:
    # '"' alone and '",' hold only quotes: left out. '"AC' carries content: counted.
    toks = _toks(('{"', 0.0), ("name", 0.0), ('":', 0.0), ('"', -3.0), ("AC", -1.0),
                 ("ME", -0.2), ('",', -2.0), ('"', 0.0), ("city", 0.0), ('":', 0.0),
                 ('"Ber', -0.4), ("lin", -0.1), ('"}', -5.0))  # fmt: skip
    conf = value_confidence(_text(toks), toks)
    assert conf["name"] == pytest.approx(_geo(-1.0, -0.2))
    assert conf["city"] == pytest.approx(_geo(-0.4, -0.1))


def test_strings_with_escapes_and_non_ascii_split_inside_a_character() -> None:
    text = '{"a":"say \\"hi\\"","b":"Болт"}'
    assert json.loads(text) == {"a": 'say "hi"', "b": "Болт"}
    ranges = value_ranges(text)
    assert text[slice(*ranges["a"])] == 'say \\"hi\\"' and text[slice(*ranges["b"])] == "Болт"
    raw = "Болт".encode()
    # The byte-level tokenizer splits "Б" (2 bytes) across two tokens: only bytes say so.
    pieces = [
        {"token": '{"a":"', "logprob": 0.0, "bytes": list(b'{"a":"')},
        {"token": "say", "logprob": -0.2, "bytes": list(b"say")},
        {"token": ' \\"', "logprob": -0.4, "bytes": list(b' \\"')},
        {"token": 'hi\\"', "logprob": -0.6, "bytes": list(b'hi\\"')},
        {"token": '","', "logprob": -0.1, "bytes": list(b'","')},
        {"token": 'b":"', "logprob": 0.0, "bytes": list(b'b":"')},
        {"token": "bytes:\\xd0", "logprob": -1.5, "bytes": list(raw[:1])},
        {"token": "\ufffdолт", "logprob": -0.5, "bytes": list(raw[1:])},
        {"token": '"}', "logprob": -0.3, "bytes": list(b'"}')},
        {"token": "<|im_end|>", "logprob": 0.0, "bytes": list(b"<|im_end|>")},
    ]
    conf = value_confidence(text, tokens_of(pieces))
    assert conf["a"] == pytest.approx(_geo(-0.2, -0.4, -0.6))
    assert conf["b"] == pytest.approx(_geo(-1.5, -0.5))


def test_nested_dimensions_arrays_of_items_and_nulls_skipped() -> None:
    offer = {
        "supplier": {"name": "ACME", "email": None},
        "items": [
            {"product_name": "Desk", "unit_price": 120, "dimensions":
             {"length": 120, "width": 60.5, "height": None, "unit": "cm"}},
            {"product_name": "Chair", "unit_price": None, "dimensions": None},
        ],
        "valid_until": "2026-12-31",
        "incoterms": None,
    }  # fmt: skip
    text = json.dumps(offer, separators=(",", ":"))
    # One token per character, each with its own log-probability (position-dependent).
    toks = [(ch.encode(), -0.01 * (i % 7)) for i, ch in enumerate(text)]
    conf = value_confidence(text, toks)
    assert set(conf) == {
        "supplier.name", "items[0].product_name", "items[0].unit_price",
        "items[0].dimensions.length", "items[0].dimensions.width", "items[0].dimensions.unit",
        "items[1].product_name", "valid_until",
    }  # fmt: skip
    assert set(conf) == set(leaf_values(offer))
    start = text.index('"width":') + len('"width":')
    expected = _geo(*(-0.01 * (i % 7) for i in range(start, start + 4)))  # "60.5"
    assert conf["items[0].dimensions.width"] == pytest.approx(expected)
    assert all(0 < c <= 1 for c in conf.values())
    levels = field_level(conf)
    assert levels["items[0].dimensions"] == min(
        conf[f"items[0].dimensions.{k}"] for k in ("length", "width", "unit")
    )


def test_tokens_that_do_not_spell_the_text_give_no_confidence() -> None:
    assert value_confidence('{"a":1}', []) == {}
    assert value_confidence('{"a":1}', _toks(('{"a":2}', -0.1))) == {}


def test_whitespace_and_empty_containers_are_read() -> None:
    text = '{ "a" : [ ] , "b" : { } , "c" : [ 1 , -2.5e3 ] , "d" : true }'
    assert {k: text[s:e] for k, (s, e) in value_ranges(text).items()} == {
        "c[0]": "1", "c[1]": "-2.5e3",
    }  # fmt: skip


def test_a_very_unlikely_value_keeps_a_positive_confidence() -> None:
    toks = _toks(('{"a":', 0.0), ("7", -9999.0), ("}", 0.0))
    assert 0 < value_confidence(_text(toks), toks)["a"] < 1e-6


def test_confidence_follows_items_through_deduplication_and_the_evidence_check() -> None:
    raw = {
        "supplier": {"name": None, "email": None},
        "items": [
            {"product_name": "Hex bolt M8", "unit_price": 0.12, "moq": 50},
            {"product_name": "Hex bolt M8", "unit_price": 0.12, "moq": 50},  # repeated
            {"product_name": "Steel shelf", "unit_price": 40},  # not in the mail
            {"product_name": "Wing nut M8", "unit_price": 0.08, "moq": 100},
        ],
        "valid_until": None, "incoterms": None, "payment_terms": None,
    }  # fmt: skip
    conf = {f"items[{i}].unit_price": 0.1 * (i + 1) for i in range(4)}
    conf["items[3].moq"] = 0.9
    offer = normalise_offer(raw, language="en", sender=Supplier())
    assert item_origins(raw) == [0, 2, 3]
    conf = remap_items(conf, item_origins(raw))
    assert conf["items[2].unit_price"] == pytest.approx(0.4)
    mail = "Hex bolt M8: 0.12 EUR, min. 50 pcs\nWing nut M8: 0.08 EUR"
    checked, dropped = check_evidence(offer, Evidence(mail))
    kept = kept_items(len(offer.items), dropped)
    assert kept == [0, 2]
    conf = remap_items(conf, kept)
    assert conf == {
        "items[0].unit_price": pytest.approx(0.1),
        "items[1].unit_price": pytest.approx(0.4),
        "items[1].moq": pytest.approx(0.9),
    }
    assert [i.product_name for i in checked.items] == ["Hex bolt M8", "Wing nut M8"]
    assert unfound_values(offer, dropped) == {
        "removed_items[0].product_name": "Steel shelf",
        "items[1].moq": 100,
    }


def test_a_brand_copied_from_the_product_name_is_not_reported_as_unfound() -> None:
    raw = {"items": [{"product_name": "Hex bolt M8", "brand": "Hex bolt M8", "sku": "HB-9"}]}
    offer = normalise_offer(raw, language="en", sender=Supplier())
    checked, dropped = check_evidence(offer, Evidence("Hex bolt M8, 0.12 EUR"))
    assert checked.items[0].brand is None and "items[0].brand" in dropped
    assert unfound_values(offer, dropped) == {"items[0].sku": "HB-9"}
