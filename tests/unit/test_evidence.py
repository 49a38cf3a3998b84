"""The evidence check keeps what the mail states and drops what the model invented."""

from __future__ import annotations

from appliance.extract.contract import Offer
from appliance.extract.evidence import Evidence, check_evidence, numbers_in

MAIL = """Galvanized nails 3.1x90 mm, brand NordFix, art. NF-3190
Quantity: 500 boxes. Price: 1 250,50 EUR per pallet, 12.40 € per box.
Lead time: 2 weeks. Valid until 31 December 2026. FCA Gothenburg."""


def _offer(**item: object) -> Offer:
    base = {"product_name": "Galvanized nails", "currency": None}
    return Offer.model_validate(
        {"supplier": {"name": "Greta", "email": "g@x.example"}, "items": [{**base, **item}]}
    )


def test_numbers_in_reads_both_decimal_conventions() -> None:
    nums = numbers_in("1 250,50 and 1,250.50 and 3.1x90 and 12,4")
    assert {1250.5, 3.1, 90.0, 12.4} <= nums


def test_stated_values_survive() -> None:
    offer = _offer(
        sku="NF-3190", brand="nordfix", quantity=500, unit_price=12.4, currency="EUR",
        total_price=1250.5, lead_time_days=14,
        dimensions={"length": 90, "width": None, "height": None, "unit": "mm"},
    )  # fmt: skip
    offer = offer.model_copy(update={"valid_until": "2026-12-31", "incoterms": "FCA Gothenburg"})
    kept, dropped = check_evidence(offer, Evidence("subject", "Greta <g@x.example>", MAIL))
    assert dropped == []
    assert kept == offer


def test_invented_values_are_dropped_and_reported() -> None:
    offer = _offer(sku="ShelfCo", moq=10, unit_price=89.9, currency="USD", lead_time_days=21,
                   weight={"value": 35, "unit": "kg"})  # fmt: skip
    offer = offer.model_copy(update={"payment_terms": "30 days net"})
    kept, dropped = check_evidence(offer, Evidence("", "", MAIL))
    item = kept.items[0]
    assert (item.sku, item.moq, item.unit_price, item.currency, item.lead_time_days) == (
        None, None, None, None, None,
    )  # fmt: skip
    assert item.weight is None and kept.payment_terms is None
    assert "items[0].sku" in dropped and "payment_terms" in dropped
    assert kept.supplier.name is None  # "Greta" is not in the text given here


def test_an_item_whose_product_is_not_in_the_mail_is_dropped() -> None:
    kept, dropped = check_evidence(_offer(product_name="Steel shelf SR-200"), Evidence(MAIL))
    assert kept.items == [] and "items[0].product_name" in dropped


def test_parts_of_dates_are_not_numbers() -> None:
    nums = numbers_in("Valid until 2026-12-15 or 15.12.2026, call at 10:30. Price 99")
    assert 99.0 in nums and not nums & {2026.0, 12.0, 15.0, 10.0, 30.0}
