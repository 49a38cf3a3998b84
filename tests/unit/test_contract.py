"""Normalisation and sanity checks of the model's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import ExtractionInvalid
from appliance.extract import grounding
from appliance.extract.contract import (
    Supplier,
    normalise_currency,
    normalise_offer,
)
from appliance.preprocess import parse_mail

SENDER = Supplier(name="Anna", email="anna@x.example")


def _raw(**item: object) -> dict[str, object]:
    base = {"product_name": "Shelf", "currency": None, "unit_price": 10}
    return {"supplier": {"name": None, "email": None}, "items": [{**base, **item}]}


@pytest.mark.parametrize(
    ("given", "iso"),
    [("$", "USD"), ("руб.", "RUB"), ("Руб", "RUB"), ("€", "EUR"), ("eur", "EUR"), (None, None)],
)
def test_currency_symbols_become_iso(given: str | None, iso: str | None) -> None:
    assert normalise_currency(given) == iso


def test_sender_fills_missing_supplier_and_language_is_ours() -> None:
    offer = normalise_offer(_raw(), language="ru", sender=SENDER)
    assert offer.supplier.email == "anna@x.example" and offer.language == "ru"


def test_currency_symbol_in_unit_moves_to_currency() -> None:
    offer = normalise_offer(_raw(unit="руб."), language="ru", sender=SENDER)
    assert offer.items[0].currency == "RUB" and offer.items[0].unit is None


def test_units_are_normalised_and_empty_dimensions_dropped() -> None:
    dims = {"length": 1200, "width": 600, "height": None, "unit": "мм"}
    offer = normalise_offer(_raw(dimensions=dims, weight={"value": 45, "unit": "кг"}),
                            language="ru", sender=SENDER)  # fmt: skip
    assert offer.items[0].dimensions and offer.items[0].dimensions.unit == "mm"
    assert offer.items[0].weight and offer.items[0].weight.unit == "kg"
    empty = {"length": None, "width": None, "height": None, "unit": "cm"}
    assert (
        normalise_offer(_raw(dimensions=empty), language="en", sender=SENDER).items[0].dimensions
        is None
    )


@pytest.mark.parametrize(
    "bad",
    [{"unit_price": -1}, {"currency": "XXQ"}, {"lead_time_days": 999},
     {"dimensions": {"length": 1, "width": 1, "height": 1, "unit": "parsec"}}],
)  # fmt: skip
def test_insane_values_are_errors_not_data(bad: dict[str, object]) -> None:
    with pytest.raises(ExtractionInvalid):
        normalise_offer(_raw(**bad), language="en", sender=SENDER)


def test_bad_date_is_an_error() -> None:
    raw = {**_raw(), "valid_until": "2026-13-45"}
    with pytest.raises(ExtractionInvalid):
        normalise_offer(raw, language="en", sender=SENDER)


def test_llm_schema_bounds_every_string_and_array() -> None:
    text = (
        Path(__file__).resolve().parents[1] / "data" / "samples" / "01-en-nails.eml"
    ).read_bytes()
    mail = parse_mail(text)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node and "pattern" not in node:
                assert "maxLength" in node, node
            if node.get("type") == "array":
                assert "maxItems" in node, node
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(grounding.schema(grounding.build(mail.text, mail.subject)))


def test_identical_items_are_one_item() -> None:
    raw = _raw()
    raw["items"] = [*raw["items"], *raw["items"], {"product_name": "Other", "unit_price": 1}]  # type: ignore[misc]
    offer = normalise_offer(raw, language="en", sender=SENDER)
    assert [i.product_name for i in offer.items] == ["Shelf", "Other"]
