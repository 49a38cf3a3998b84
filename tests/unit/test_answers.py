"""Reading the filled-in answer form back from a supplier's reply."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.workflow.answers import Answer, parse_answers
from appliance.workflow.compose import AskedItem, compose_questions


def _fields(text: str) -> list[tuple[int | None, str, Any]]:
    answers = parse_answers(text)
    for a in answers:
        assert text[a.span[0] : a.span[1]] == a.raw
    return [(a.number, a.field, a.value) for a in answers]


def _one(text: str) -> Answer:
    answers = parse_answers(text)
    assert len(answers) == 1, answers
    return answers[0]


# --- round trip ---------------------------------------------------------------------------------

FILL = {
    "en": {
        "Unit price": ("4,20 EUR", [("unit_price", 4.2), ("currency", "EUR")]),
        "Quantity or minimum order": ("min. 50 pcs", [("moq", 50.0)]),
        "Lead time (days)": ("2 weeks", [("lead_time_days", 14)]),
        "Dimensions (L x W x H, unit)": (
            "120x60x75 cm",
            [("dimensions", {"length": 120.0, "width": 60.0, "height": 75.0, "unit": "cm"})],
        ),
        "Payment terms": ("30 days net", [("payment_terms", "30 days net")]),
    },
    "ru": {
        "Цена за единицу": ("1 250,50 руб.", [("unit_price", 1250.5), ("currency", "RUB")]),
        "Количество или минимальная партия": ("1 000 шт.", [("quantity", 1000.0)]),
        "Срок поставки (дней)": ("3 недели", [("lead_time_days", 21)]),
        "Размеры (Д x Ш x В, ед.)": (
            "1200×600 мм",
            [("dimensions", {"length": 1200.0, "width": 600.0, "height": None, "unit": "mm"})],
        ),
        "Условия оплаты": ("100% предоплата", [("payment_terms", "100% предоплата")]),
    },
}


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_round_trip_compose_fill_parse(lang: str) -> None:
    out = compose_questions(
        kind="clarification", language=lang, token="Q-7K3M9P", to_addr="a@s.example",
        to_name="Anna", from_addr="p@b.example", from_name="Purchasing",
        original_subject="Offer", in_reply_to=None, references=[],
        items=[
            AskedItem(number=1, name="Office chair", missing=["unit_price", "quantity|moq"]),
            AskedItem(number=2, name="Desk", missing=["lead_time_days", "dimensions"]),
        ],
        offer_missing=["payment_terms"], round_no=1, max_rounds=2, idem_key="k",
        id_domain="b.example",
    )  # fmt: skip
    # The supplier types after each colon of the form; the rest of the e-mail stays as it was.
    reply_lines, expected = [], []
    number: int | None = None
    for line in out.body.splitlines():
        head = line.strip()
        if head[:2] in ("1.", "2."):
            number = int(head[0])
        elif head in ("Offer:", "Предложение:"):
            number = None
        label = head.rstrip(": ")
        if line.startswith("   ") and label in FILL[lang]:
            value, fields = FILL[lang][label]
            line += value
            expected += [(number, f, v) for f, v in fields]
        reply_lines.append(line)
    reply = "\r\n".join(reply_lines)
    assert len(expected) == 6
    assert _fields(reply) == expected
    raws = [a.raw for a in parse_answers(reply) if a.field != "currency"]
    assert raws == [value for value, _ in FILL[lang].values()]


def test_answers_follow_the_item_headers() -> None:
    text = (
        "Unit price: 5 USD\n"
        "1. Chair\n  Brand: ErgoCo\n"
        "2. Desk\n  Brand: DeskCo\n  Payment terms: 30 days\n"
        "Offer:\n  Incoterms: FCA Moscow\n  Currency: EUR\n"
    )
    assert _fields(text) == [
        (1, "unit_price", 5.0), (1, "currency", "USD"), (1, "brand", "ErgoCo"),
        (2, "brand", "DeskCo"), (None, "payment_terms", "30 days"),
        (None, "incoterms", "FCA Moscow"), (None, "currency", "EUR"),
    ]  # fmt: skip


def test_quoted_lines_are_ignored() -> None:
    assert _fields("> Unit price: 9.99\n>> Lead time: 3 days\nLead time: 5\n") == [
        (1, "lead_time_days", 5)
    ]


def test_labels_tolerate_case_spacing_and_missing_hints() -> None:
    assert _fields("LEAD   TIME: 14 days\n - unit PRICE : 3\nСрок поставки: 10 дн.") == [
        (1, "lead_time_days", 14), (1, "unit_price", 3.0), (1, "lead_time_days", 10),
    ]  # fmt: skip


def test_spans_index_the_original_text() -> None:
    text = "Hi!\r\n\r\n1. Chair\r\n   Unit price:   $4.20  \r\n"
    price, cur = parse_answers(text)
    assert price.raw == "$4.20" and text[price.span[0] : price.span[1]] == "$4.20"
    assert (cur.field, cur.value, cur.raw) == ("currency", "USD", "$")
    assert text[cur.span[0] : cur.span[1]] == "$"


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "price", "currency"),
    [
        ("4.20", 4.2, None), ("4,20", 4.2, None), ("1 250,50", 1250.5, None),
        ("1,250.50", 1250.5, None), ("1.250,50", 1250.5, None), ("$4.20", 4.2, "USD"),
        ("4.20 USD", 4.2, "USD"), ("4,20 €", 4.2, "EUR"), ("120 руб.", 120.0, "RUB"),
        ("120 рублей за 1 шт.", 120.0, "RUB"), ("1,250", 1250.0, None),
        ("4.20 EUR excl. 20% VAT", 4.2, "EUR"), ("0,125", 0.125, None),
    ],
)  # fmt: skip
def test_prices(raw: str, price: float, currency: str | None) -> None:
    got = _fields(f"Unit price: {raw}")
    assert got[0] == (1, "unit_price", price)
    assert got[1:] == ([(1, "currency", currency)] if currency else [])


@pytest.mark.parametrize(
    ("raw", "iso"),
    [("EUR", "EUR"), ("рубли", "RUB"), ("рублей", "RUB"), ("руб.", "RUB"), ("доллары США", "USD"),
     ("евро", "EUR"), ("€", "EUR"), ("us dollars", "USD"), ("CNY", "CNY")],
)  # fmt: skip
def test_currencies(raw: str, iso: str) -> None:
    assert _fields(f"Валюта: {raw}") == [(1, "currency", iso)]


@pytest.mark.parametrize(
    ("raw", "days"),
    [("14", 14), ("14 days", 14), ("2 weeks", 14), ("3 недели", 21), ("10 рабочих дней", 10),
     ("10 дн.", 10), ("1 month", 30), ("1 месяц", 30), ("10-14 days", 14), ("1.5 weeks", 11)],
)  # fmt: skip
def test_lead_times(raw: str, days: int) -> None:
    assert _fields(f"Lead time: {raw}") == [(1, "lead_time_days", days)]


@pytest.mark.parametrize(
    ("raw", "field", "value"),
    [("100", "quantity", 100.0), ("1,000 pcs", "quantity", 1000.0), ("min 50", "moq", 50.0),
     ("MOQ 200 pcs", "moq", 200.0), ("мин. партия 10 шт", "moq", 10.0),
     ("minimum 5", "moq", 5.0)],
)  # fmt: skip
def test_quantity_or_moq(raw: str, field: str, value: float) -> None:
    assert _fields(f"Quantity or minimum order: {raw}") == [(1, field, value)]


@pytest.mark.parametrize(
    ("raw", "dims"),
    [
        ("120x60x75 cm", (120.0, 60.0, 75.0, "cm")),
        ("120 x 60 x 75cm", (120.0, 60.0, 75.0, "cm")),
        ("1200×600 мм", (1200.0, 600.0, None, "mm")),
        ("120 х 60 х 75 см", (120.0, 60.0, 75.0, "cm")),
        ("0,5 x 1,2 m", (0.5, 1.2, None, "m")),
    ],
)
def test_dimensions(raw: str, dims: tuple[Any, ...]) -> None:
    value = _one(f"Dimensions: {raw}").value
    assert (value["length"], value["width"], value["height"], value["unit"]) == dims


def test_weight_and_other_fields() -> None:
    text = (
        "Weight: 35 kg\nВес: 500 г\nOffer valid until: 31.12.2026\n"
        "Предложение действительно до: 31 марта 2026 г.\nOffer valid until: March 5, 2026\n"
        "SKU: NF-3190\nQuantity: 10\nMinimum order quantity: 5\nTotal price: 1 000 EUR\n"
    )
    assert _fields(text) == [
        (1, "weight", {"value": 35.0, "unit": "kg"}), (1, "weight", {"value": 500.0, "unit": "g"}),
        (None, "valid_until", "2026-12-31"), (None, "valid_until", "2026-03-31"),
        (None, "valid_until", "2026-03-05"), (1, "sku", "NF-3190"), (1, "quantity", 10.0),
        (1, "moq", 5.0), (1, "total_price", 1000.0), (1, "currency", "EUR"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "line",
    [
        "Unit price: ", "Unit price: ?", "Unit price: -", "Brand: n/a", "Brand: нет",
        "Unit price: 4.20 or 3.90", "Unit price: 4.20 EUR / 4.60 USD", "Unit price: 4 EUR $",
        "Lead time: ASAP", "Lead time: 2 weeks 3 days", "Lead time: 5000 days",
        "Dimensions: 120x60", "Dimensions: 120x60 cm x 75 mm", "Dimensions: 1,250 x 600 mm",
        "Weight: 35", "Weight: 1.250 kg", "Offer valid until: 03/04/2026",
        "Offer valid until: 31.02.2026", "Offer valid until: soon", "Currency: money",
        "Quantity: 2 x 50", "Colour: red", "Unit price 4.20", "SKU: " + "X" * 40,
    ],
)  # fmt: skip
def test_unreadable_or_empty_values_give_no_answer(line: str) -> None:
    assert parse_answers(line) == []


def test_free_text_is_not_an_answer() -> None:
    text = "Thank you! We can deliver quickly.\nRegards: Bob\nPrice list attached."
    assert parse_answers(text) == []
