"""Field-level scoring rules of ``finetune.scoring`` on small hand-made offers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from finetune.scoring import (
    Counts,
    Report,
    match_items,
    names_match,
    normalize_sku,
    normalize_text,
    numbers_equal,
    score,
)

ROOT = Path(__file__).resolve().parents[2]


def item(**fields: Any) -> dict[str, Any]:
    """A contract item with every field null except those given."""
    base: dict[str, Any] = {
        "product_name": None, "sku": None, "brand": None, "quantity": None, "unit": None,
        "unit_price": None, "currency": None, "total_price": None, "moq": None,
        "dimensions": None, "weight": None, "lead_time_days": None,
    }  # fmt: skip
    base.update(fields)
    return base


def offer(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A contract offer with the given items and every offer field null except those given."""
    base: dict[str, Any] = {
        "supplier": {"name": None, "email": None},
        "items": list(items),
        "valid_until": None,
        "incoterms": None,
        "payment_terms": None,
        "language": "en",
    }
    base.update(fields)
    return base


def wdc_gold(brand: Any, sku: Any, dimensions: Any = None) -> dict[str, Any]:
    """A label shaped like the wdc set: names unlabelled, only item fields."""
    return {
        "message_id": "<x@y>",
        "items": [
            {
                "product_name": None,
                "brand": brand,
                "sku": sku,
                "dimensions": dimensions,
                "weight": None,
            }
        ],
    }


def tfn(report: Report, name: str) -> tuple[int, int, int]:
    c = report.counts[name]
    return c.tp, c.fp, c.fn


# ---------------------------------------------------------------- comparison helpers


def test_number_tolerance() -> None:
    assert numbers_equal(100, 100.4)  # 0.4 %
    assert not numbers_equal(100, 100.6)  # 0.6 %
    assert numbers_equal(0, 0.0000005)  # absolute tolerance
    assert not numbers_equal(0, 0.001)
    assert numbers_equal("24.50", 24.5)
    assert not numbers_equal(True, 1)
    assert not numbers_equal(None, 0)


def test_text_and_sku_normalisation() -> None:
    assert normalize_text("  ＡＣＭＥ   Corp. ") == "acme corp"
    assert normalize_text("«Straße»") == "strasse"
    assert normalize_sku("ab-12 3") == normalize_sku("AB123")
    assert normalize_sku("XER 106R01409") == "xer106r01409"


def test_names_match_rules() -> None:
    assert names_match("Galvanized nails 100mm", "galvanised nails, 100mm")  # 2/4 = 0.5
    assert names_match("Color Ink Cartridge", "Epson Color Ink Cartridge T009201")  # contained
    assert not names_match("Cartridge", "Epson Color Ink Cartridge T009201")  # 1 token only
    assert not names_match("Office chair", "Steel shelves")


# ---------------------------------------------------------------- field counting rules


def test_equal_missing_wrong_and_hallucinated_values() -> None:
    gold = offer(
        item(product_name="Nails", quantity=100, unit_price=2.5, currency="USD", moq=None),
        valid_until="2024-05-01",
        incoterms="FOB",
    )
    pred = offer(
        item(product_name="nails", quantity=100.3, unit_price=None, currency="EUR", moq=50),
        valid_until="2024-05-01",
        incoterms=None,
    )
    r = score([(pred, gold)])
    assert tfn(r, "quantity") == (1, 0, 0)  # within tolerance → TP
    assert tfn(r, "unit_price") == (0, 0, 1)  # gold set, pred null → FN
    assert tfn(r, "currency") == (0, 1, 1)  # wrong → FP and FN
    assert tfn(r, "moq") == (0, 1, 0)  # gold null, pred set → FP
    assert tfn(r, "sku") == (0, 0, 0)  # both null → nothing
    assert tfn(r, "valid_until") == (1, 0, 0)
    assert tfn(r, "incoterms") == (0, 0, 1)
    assert tfn(r, "product_name") == (1, 0, 0)
    assert "language" not in r.counts


def test_currency_needs_exact_code() -> None:
    gold = offer(item(product_name="Box", currency="USD"))
    r = score([(offer(item(product_name="Box", currency="usd")), gold)])
    assert tfn(r, "currency") == (0, 1, 1)


def test_string_fields_casefold_and_punctuation() -> None:
    gold = offer(
        item(product_name="Box", unit="pcs"),
        supplier={"name": "ACME Corp.", "email": "Sales@Acme.com"},
        payment_terms="30 days net",
    )
    pred = offer(
        item(product_name="box", unit="PCS."),
        supplier={"name": "acme  corp", "email": "sales@acme.com"},
        payment_terms="30 Days Net.",
    )
    r = score([(pred, gold)])
    for name in ("unit", "supplier.name", "supplier.email", "payment_terms"):
        assert tfn(r, name) == (1, 0, 0), name


def test_list_gold_any_value_is_right() -> None:
    gold = wdc_gold(["Hewlett Packard", "HP"], ["CE285A", "HP-CE285A"])
    pred = offer(item(product_name="HP 85A toner", brand="hp", sku="hp ce285a"))
    r = score([(pred, gold)])
    assert tfn(r, "brand") == (1, 0, 0)
    assert tfn(r, "sku") == (1, 0, 0)
    wrong = offer(item(product_name="HP 85A toner", brand="Canon", sku="CE285X"))
    r = score([(wrong, gold)])
    assert tfn(r, "brand") == (0, 1, 1)
    assert tfn(r, "sku") == (0, 1, 1)


def test_unlabelled_fields_are_skipped() -> None:
    gold = wdc_gold(["Avery"], ["AVE12505"])
    pred = offer(
        item(product_name="Labels", brand="Avery", sku="AVE12505", unit_price=9.99, currency="USD"),
        supplier={"name": "OnTime", "email": "sales@ontime.example"},
        valid_until="2026-12-01",
    )
    r = score([(pred, gold)])
    # product_name is null in gold (not labelled); prices and offer fields are absent from gold.
    assert set(r.counts) == {"brand", "sku", "dimensions", "weight"}
    assert r.overall.fp == 0
    assert r.overall.tp == 2


def test_null_gold_sku_is_labelled_null() -> None:
    gold = wdc_gold(["Avery"], None)
    r = score([(offer(item(product_name="Labels", sku="X1")), gold)])
    assert tfn(r, "sku") == (0, 1, 0)


def test_dimensions_converted_to_mm_per_axis() -> None:
    gold = wdc_gold(["Redi-Tag"], ["RTG31002"], {"length": 25.4, "width": 11.1, "unit": "mm"})
    ok = offer(
        item(
            product_name="Tabs",
            sku="RTG31002",
            dimensions={"length": 1, "width": 0.4375, "height": 3, "unit": "in"},
        )
    )
    assert tfn(score([(ok, gold)]), "dimensions") == (1, 0, 0)  # extra height not penalised
    cm = offer(item(product_name="Tabs", dimensions={"length": 2.54, "width": 1.11, "unit": "cm"}))
    assert tfn(score([(cm, gold)]), "dimensions") == (1, 0, 0)
    missing_axis = offer(
        item(product_name="Tabs", dimensions={"length": 1, "width": None, "unit": "in"})
    )
    assert tfn(score([(missing_axis, gold)]), "dimensions") == (0, 1, 1)
    wrong_unit = offer(
        item(product_name="Tabs", dimensions={"length": 1, "width": 0.4375, "unit": "cm"})
    )
    assert tfn(score([(wrong_unit, gold)]), "dimensions") == (0, 1, 1)
    none = offer(item(product_name="Tabs", dimensions=None))
    assert tfn(score([(none, gold)]), "dimensions") == (0, 0, 1)
    feet = wdc_gold(["X"], ["Y"], {"length": 32918.4, "unit": "mm"})
    pred_ft = offer(item(product_name="Tape", dimensions={"length": 108, "unit": "ft"}))
    assert tfn(score([(pred_ft, feet)]), "dimensions") == (1, 0, 0)


def test_weight_converted_to_grams() -> None:
    gold = offer(item(product_name="Coffee beans", weight={"value": 6, "unit": "oz"}))
    grams = offer(item(product_name="Coffee beans", weight={"value": 170.1, "unit": "g"}))
    assert tfn(score([(grams, gold)]), "weight") == (1, 0, 0)
    pounds = offer(item(product_name="Coffee beans", weight={"value": 0.375, "unit": "lb"}))
    assert tfn(score([(pounds, gold)]), "weight") == (1, 0, 0)
    kg = offer(item(product_name="Coffee beans", weight={"value": 6, "unit": "kg"}))
    assert tfn(score([(kg, gold)]), "weight") == (0, 1, 1)
    tonnes = offer(item(product_name="Sand", weight={"value": 2, "unit": "t"}))
    gold_kg = offer(item(product_name="Sand", weight={"value": 2000, "unit": "kg"}))
    assert tfn(score([(tonnes, gold_kg)]), "weight") == (1, 0, 0)


# ---------------------------------------------------------------- item matching


def test_items_matched_regardless_of_order() -> None:
    a = item(product_name="Galvanized nails 100mm", sku="N-100", unit_price=2.5, currency="USD")
    b = item(product_name="Wood screws 4x40", sku="S-440", unit_price=4.0, currency="USD")
    c = item(product_name="Steel washers M8", sku=None, unit_price=0.1, currency="USD")
    gold = offer(a, b, c)
    pred = offer(dict(c), dict(a), dict(b))
    r = score([(pred, gold)])
    assert r.overall.fp == 0 and r.overall.fn == 0
    assert r.overall.tp == 3 + 2 + 3 + 3  # names, skus, prices, currencies
    assert r.f1() == 1.0


def test_match_items_prefers_similarity_over_position() -> None:
    gold = [item(product_name="Office chair", sku="CH-1"), item(product_name="Desk", sku="D-9")]
    pred = [item(product_name="Desk", sku="D9"), item(product_name="Office chair black")]
    pairs, lone_p, lone_g = match_items(pred, gold)
    assert pairs == [(0, 1), (1, 0)]
    assert lone_p == [] and lone_g == []


def test_hallucinated_item_adds_false_positives() -> None:
    gold = offer(item(product_name="Nails", quantity=10, unit_price=1.0, currency="USD"))
    extra = item(product_name="Free shipping", quantity=1, unit_price=7.95, currency="USD")
    pred = offer(dict(gold["items"][0]), extra)
    r = score([(pred, gold)])
    assert tfn(r, "product_name") == (1, 1, 0)
    assert tfn(r, "quantity") == (1, 1, 0)
    assert tfn(r, "unit_price") == (1, 1, 0)
    assert tfn(r, "currency") == (1, 1, 0)
    assert tfn(r, "sku") == (0, 0, 0)  # null in the extra item → nothing


def test_hallucinated_item_counts_only_labelled_schema() -> None:
    gold = wdc_gold(["Avery"], ["AVE12505"])
    pred = offer(
        item(product_name="Labels", brand="Avery", sku="AVE12505"),
        item(product_name="Other labels", brand="3M", sku="MMM1", unit_price=5.0),
    )
    r = score([(pred, gold)])
    assert tfn(r, "brand") == (1, 1, 0)
    assert tfn(r, "sku") == (1, 1, 0)
    assert "product_name" not in r.counts  # unlabelled in that mail's gold schema
    assert "unit_price" not in r.counts


def test_missed_gold_item_adds_false_negatives() -> None:
    gold = offer(
        item(product_name="Nails", unit_price=1.0, currency="USD"),
        item(product_name="Screws", unit_price=2.0, currency="USD"),
    )
    pred = offer(item(product_name="Nails", unit_price=1.0, currency="USD"))
    r = score([(pred, gold)])
    assert tfn(r, "product_name") == (1, 0, 1)
    assert tfn(r, "unit_price") == (1, 0, 1)
    assert tfn(r, "quantity") == (0, 0, 0)


# ---------------------------------------------------------------- failures and the report


def test_failed_prediction_counts_all_gold_values_as_false_negatives() -> None:
    gold = offer(
        item(product_name="Nails", quantity=10, unit_price=1.0, currency="USD"),
        item(product_name="Screws", quantity=5, currency="USD"),
        supplier={"name": "ACME", "email": None},
        valid_until="2024-01-31",
    )
    r = score([(None, gold)])
    assert r.n == 1 and r.n_valid == 0 and r.valid_share == 0.0
    assert r.overall.tp == 0 and r.overall.fp == 0
    assert r.overall.fn == 2 + 2 + 1 + 2 + 1 + 1  # names, qty, price, currency, supplier, date
    assert tfn(r, "supplier.email") == (0, 0, 0)
    assert r.precision() is None and r.recall() == 0.0


def test_report_aggregates_micro_and_valid_share() -> None:
    gold = offer(item(product_name="Nails", unit_price=1.0))
    good = offer(item(product_name="Nails", unit_price=1.0))
    bad = offer(item(product_name="Nails", unit_price=3.0))
    r = score([(good, gold), (bad, gold), (None, gold)])
    assert r.n == 3 and r.n_valid == 2
    assert r.valid_share == pytest.approx(2 / 3)
    assert tfn(r, "unit_price") == (1, 1, 2)
    assert r.precision("unit_price") == 0.5
    assert r.recall("unit_price") == pytest.approx(1 / 3)
    assert r.f1("unit_price") == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    o = r.overall
    assert (o.tp, o.fp, o.fn) == (3, 1, 3)
    both = r + score([(good, gold)])
    assert both.n == 4 and tfn(both, "unit_price") == (2, 1, 2)


def test_counts_ratios_with_zero_denominators() -> None:
    c = Counts()
    assert c.precision is None and c.recall is None and c.f1 is None
    assert Counts(tp=0, fp=2, fn=0).precision == 0.0


def test_table_and_as_dict_render() -> None:
    gold = offer(item(product_name="Nails", sku="N-1", unit_price=1.0, currency="USD"))
    pred = offer(item(product_name="Nails", sku="N1", unit_price=2.0, currency="USD"))
    r = score([(pred, gold), (None, gold)])
    text = r.table()
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["field", "P", "R", "F1", "support"]
    assert any(line.startswith("unit_price") for line in lines)
    assert any(line.startswith("overall (micro)") for line in lines)
    assert "valid share: 0.500" in text
    # columns are aligned: the header and every data row have the same width up to F1
    f1_end = lines[0].index("F1") + 2
    rows = [line for line in lines if line.startswith(("sku", "unit_price", "currency"))]
    assert all(line[f1_end - 5 : f1_end].strip() for line in rows)
    d = r.as_dict()
    json.dumps(d)  # JSON-ready
    assert d["n"] == 2 and d["n_valid"] == 1
    assert d["fields"]["unit_price"] == {
        "tp": 0, "fp": 1, "fn": 2, "unstated": 0, "support": 2, "precision": 0.0,
        "recall": 0.0, "f1": 0.0,
    }  # fmt: skip
    assert d["fields"]["sku"]["tp"] == 1
    assert d["overall"]["support"] == 8


def test_scoring_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, finetune.scoring;"
        "print([m for m in ('torch', 'transformers', 'peft', 'outlines', 'pydantic', 'appliance')"
        " if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_unstated_counts_values_for_fields_the_mail_does_not_state():
    gold = {"items": [{"product_name": "Nails", "moq": None, "unit_price": 2.0}]}
    pred = {
        "items": [
            {"product_name": "Nails", "moq": 1, "unit_price": 3.0},
            {"product_name": "X", "moq": 5},
        ]
    }
    r = score([(pred, gold)])
    assert r.counts["moq"].fp == 2 and r.counts["moq"].unstated == 2  # matched item + lone item
    assert r.counts["unit_price"].fp == 1 and r.counts["unit_price"].unstated == 0  # wrong, stated
    assert r.overall.unstated == 3  # and the lone item's name
