"""Unit tests of the deterministic readers (appliance.extract.readers): pure functions over text,
no services. Every call goes through ``read`` and checks the span invariant
(``text[c.start:c.end] == c.text``) on every candidate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from appliance.extract.readers import Candidates, read
from appliance.extract.readers.numbers import parse_measure, parse_number
from appliance.preprocess import parse_mail

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "dev"


def check_spans(text: str, c: Candidates) -> None:
    for f in dataclasses.fields(c):
        if f.name == "currencies":
            continue
        for cand in getattr(c, f.name):
            assert text[cand.start : cand.end] == cand.text, (f.name, cand)
            assert cand.text, (f.name, cand)


def r(text: str) -> Candidates:
    c = read(text)
    check_spans(text, c)
    return c


def sample(name: str) -> str:
    raw = (SAMPLES / name).read_bytes()
    return parse_mail(raw, max_bytes=10_000_000, max_parts=50, max_text_chars=100_000).text


# -- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("1 250,50", 1250.5), ("1,250.50", 1250.5), ("2,000", 2000), ("85,50", 85.5),
        ("1.234,56", 1234.56), ("1\u00a0250,50", 1250.5), ("1\u202f250", 1250),
        ("1\u2009250", 1250), ("1'250.50", 1250.5), ("12.40", 12.4), ("0,125", 0.125),
        ("1.234.567", 1234567), ("1,234,567", 1234567), ("500", 500),
    ],
)  # fmt: skip
def test_parse_number(token: str, value: float) -> None:
    assert parse_number(token) == pytest.approx(value)


@pytest.mark.parametrize(
    ("token", "value"),
    [("7/16", 0.4375), ("28-1/8", 28.125), ("8 1/2", 8.5), ("8½", 8.5), ("14.4", 14.4)],
)
def test_parse_measure(token: str, value: float) -> None:
    assert parse_measure(token) == pytest.approx(value)


# -- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "value", "currency"),
    [
        ("Price 12.40 EUR net", "12.40 EUR", 12.4, "EUR"),
        ("EUR 12.40", "EUR 12.40", 12.4, "EUR"),
        ("only $149.00!", "$149.00", 149.0, "USD"),
        ("US$ 5", "US$ 5", 5.0, "USD"),
        ("€1.234,56", "€1.234,56", 1234.56, "EUR"),
        ("Цена 85,50 руб. с НДС", "85,50 руб.", 85.5, "RUB"),
        ("Цена 85,50 руб за штуку", "85,50 руб", 85.5, "RUB"),
        ("итого 1 250 ₽", "1 250 ₽", 1250.0, "RUB"),
        ("стоит 1250 р. за метр", "1250 р.", 1250.0, "RUB"),
        ("RUB 300", "RUB 300", 300.0, "RUB"),
        ("¥20", "¥20", 20.0, "CNY"),
        ("£3.50 each", "£3.50", 3.5, "GBP"),
        ("1,250.50 USD", "1,250.50 USD", 1250.5, "USD"),
        ("1 250,50 €", "1 250,50 €", 1250.5, "EUR"),
        ("12 тыс. руб.", "12 тыс. руб.", 12000.0, "RUB"),
        ("HK$120", "HK$120", 120.0, "HKD"),
        ("25 euros", "25 euros", 25.0, "EUR"),
        ("100 долларов", "100 долларов", 100.0, "USD"),
    ],
)
def test_money_with_currency(text: str, amount: str, value: float, currency: str) -> None:
    c = r(text)
    assert [(m.text, m.value, m.currency) for m in c.money] == [(amount, value, currency)]
    assert currency in c.currencies


@pytest.mark.parametrize(
    ("text", "per"),
    [
        ("12.40 EUR per box", "box"),
        ("3 EUR per m", "m"),
        ("0.85 EUR/pc", "pc"),
        ("85,50 руб. за метр", "метр"),
        ("10 руб. за шт.", "шт"),
        ("Price per box: 12.40 EUR", "box"),
        ("£3.50 each", "each"),
        ("Station = $2100. each", "each"),
        ("costs $5. Each box holds ten", None),
        ("12.40 EUR", None),
    ],
)
def test_money_per(text: str, per: str | None) -> None:
    assert [m.per for m in r(text).money] == [per]


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Price: 12.40 EUR", "price"),
        ("VAT: 19.00 EUR", "tax"),
        ("НДС 20%: 2 000 руб.", "tax"),
        ("Sales tax $4.79", "tax"),
        ("Shipping: 25 EUR", "shipping"),
        ("Delivery cost 25 EUR", "shipping"),
        ("Freight $120", "shipping"),
        ("Стоимость доставки: 500 руб.", "shipping"),
        ("Total: 1,250.50 USD", "total"),
        ("Subtotal $111.34", "total"),
        ("Итого с НДС: 12 000 руб.", "total"),
        ("Всего 5 000 руб.", "total"),
        ("Сумма: 5 000 руб.", "total"),
        ("Discount: 10 EUR", "discount"),
        ("Скидка 500 руб.", "discount"),
        ("rebate of $20", "discount"),
        ("Setup fee waived   ($69.00)", "discount"),
        ("100 EUR excl. VAT", "price"),
        ("Цена с НДС: 120 руб.", "price"),
        ("€25 shipping", "shipping"),
        ("20 pcs at $149.00", "price"),
    ],
)
def test_money_role(text: str, role: str) -> None:
    assert [m.role for m in r(text).money] == [role]


def test_money_roles_on_one_line() -> None:
    c = r("Subtotal: 100 EUR, VAT: 19 EUR, Shipping: 5 EUR, Total: 124 EUR")
    assert [(m.value, m.role) for m in c.money] == [
        (100, "total"), (19, "tax"), (5, "shipping"), (124, "total"),
    ]  # fmt: skip


def test_bare_amount_after_price_label_takes_the_mails_currency() -> None:
    c = r("Все цены в рублях.\nЦена: 120,00\nИтого: 1 200,00")
    assert [(m.text, m.value, m.currency, m.role) for m in c.money] == [
        ("120,00", 120.0, "RUB", "price"),
        ("1 200,00", 1200.0, "RUB", "total"),
    ]
    assert c.currencies == ["RUB"]


def test_bare_amount_takes_the_labels_currency() -> None:
    c = r("Price (EUR): 12.40\nЦена, руб.: 85,50")
    assert [(m.value, m.currency) for m in c.money] == [(12.4, "EUR"), (85.5, "RUB")]


def test_bare_amount_without_any_currency_has_none() -> None:
    assert [(m.value, m.currency) for m in r("Price: 12.40").money] == [(12.4, None)]


def test_bare_amount_with_two_currencies_in_the_mail_has_none() -> None:
    c = r("Shipping 5 USD or 5 EUR.\nPrice: 12.40")
    assert c.currencies == ["USD", "EUR"]
    assert [m.currency for m in c.money if m.text == "12.40"] == [None]


def test_table_columns_give_roles_and_bare_amounts() -> None:
    text = (
        "Offer in EUR.\n\n"
        "Item | Qty | Price | Total\n"
        "Nails 3.1x90 mm | 500 | 12.40 | 6200.00\n"
        "Shipping tags | 1,000 | 0.85 | 850.00\n"
    )
    c = r(text)
    assert [(m.text, m.currency, m.role) for m in c.money] == [
        ("12.40", "EUR", "price"), ("6200.00", "EUR", "total"),
        ("0.85", "EUR", "price"), ("850.00", "EUR", "total"),
    ]  # fmt: skip
    assert [(q.value, q.role) for q in c.quantities] == [(500, "quantity"), (1000, "quantity")]


def test_aligned_table_column_roles() -> None:
    text = (
        "Qty      Item                           Price  Shipped  Subtotal\n"
        "-----------------------------------------------------------------\n"
        "1        Roosevelt's Secret War: FDR an $24.50   1      $24.50\n"
        "\n"
        "2        The Hobbit: or There and Back  $9.60    2      $19.20\n"
        "-----------------------------------------------------------------\n"
        "               Item Subtotal:  $43.70\n"
        "         Shipping & Handling:  $7.95\n"
    )
    c = r(text)
    assert [(m.value, m.role) for m in c.money] == [
        (24.5, "price"), (24.5, "total"), (9.6, "price"), (19.2, "total"),
        (43.7, "total"), (7.95, "shipping"),
    ]  # fmt: skip
    assert [q.value for q in c.quantities] == [1, 2]


def test_russian_tab_table() -> None:
    text = "Наименование\tКол-во\tЦена, руб.\tСумма\nСтеллаж СТ-200\t5\t12 500,00\t62 500,00\n"
    c = r(text)
    assert [(m.value, m.currency, m.role) for m in c.money] == [
        (12500.0, "RUB", "price"), (62500.0, "RUB", "total"),
    ]  # fmt: skip
    assert [q.value for q in c.quantities] == [5]


@pytest.mark.parametrize(
    "text",
    [
        "Call +7 (495) 123-45-67 for the price. Price: see below",
        "Houston TX 77006",
        "Offer valid until 2026-12-31.",
        "Цена: 31.12.2026",
        "Discount: 5%",
        "Price: 60x40x40 cm box",
        "Price: 10 pcs",
        "art. 12345, Item #4440.91",
        "Price list attached, phone (503) 288-6546",
        "Lead time: 2 weeks",
    ],
)
def test_no_money_in_distractors(text: str) -> None:
    assert r(text).money == []


def test_currencies_named_in_order_and_unique() -> None:
    c = r("Prices in EUR. Alternatively $12.00 or 10 EUR; CAD drawings attached.")
    assert c.currencies == ["EUR", "USD"]


# -- quantities -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "value", "unit", "role"),
    [
        ("500 boxes", "500 boxes", 500, "boxes", "quantity"),
        ("we offer 20 pcs", "20 pcs", 20, "pcs", "quantity"),
        ("Количество: 1000 м", "1000 м", 1000, "м", "quantity"),
        ("10 шт.", "10 шт.", 10, "шт", "quantity"),
        ("2,000 pcs", "2,000 pcs", 2000, "pcs", "quantity"),
        ("Quantity: 500", "500", 500, None, "quantity"),
        ("Qty 3", "3", 3, None, "quantity"),
        ("Office chair x 4", "4", 4, None, "quantity"),
        ("1 box", "1 box", 1, "box", "quantity"),
        ("MOQ 2,000 pcs", "2,000 pcs", 2000, "pcs", "moq"),
        ("MOQ: 50", "50", 50, None, "moq"),
        ("Minimum order: 100 boxes", "100 boxes", 100, "boxes", "moq"),
        ("min. order 10 cartons", "10 cartons", 10, "cartons", "moq"),
        ("Minimum order quantity: 50 sets", "50 sets", 50, "sets", "moq"),
        ("минимальная партия 5 шт.", "5 шт.", 5, "шт", "moq"),
        ("минимальный заказ: 20 коробок", "20 коробок", 20, "коробок", "moq"),
        ("мин. заказ 10 шт", "10 шт", 10, "шт", "moq"),
        ("In stock: 300", "300", 300, None, "stock"),
        ("300 pcs in stock", "300 pcs", 300, "pcs", "stock"),
        ("На складе 40 рулонов", "40 рулонов", 40, "рулонов", "stock"),
        ("Кол-во: 7 упаковок", "7 упаковок", 7, "упаковок", "quantity"),
    ],
)
def test_quantities(text: str, span: str, value: float, unit: str | None, role: str) -> None:
    assert [(q.text, q.value, q.unit, q.role) for q in r(text).quantities] == [
        (span, value, unit, role)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Call +7 (495) 123-45-67",
        "Houston TX 77006",
        "Valid until 2026-12-31",
        "60 x 40 x 40 cm",
        '1" x 7/16"',
        "1000 мм",
        "Lead time 2 weeks",
        "Quantity discount 5%",
        "Price 12.40 EUR",
        "3M tape",
    ],
)
def test_no_quantity_in_distractors(text: str) -> None:
    assert r(text).quantities == []


# -- dimensions and weights -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "lwh", "unit"),
    [
        ("1200x600x2000 мм", "1200x600x2000 мм", (1200, 600, 2000), "mm"),
        ("размеры 1200х600х2000 мм", "1200х600х2000 мм", (1200, 600, 2000), "mm"),
        ("60x40x40 cm", "60x40x40 cm", (60, 40, 40), "cm"),
        ("60 x 40 x 40cm", "60 x 40 x 40cm", (60, 40, 40), "cm"),
        ("desk 160x80 cm", "160x80 cm", (160, 80, None), "cm"),
        ("L 1.2 m", "L 1.2 m", (1.2, None, None), "m"),
        ('tabs 1" x 7/16".', '1" x 7/16"', (1, 0.4375, None), "in"),
        (
            '14.4" Length x 10.25" Width 15" Height',
            '14.4" Length x 10.25" Width 15" Height',
            (14.4, 10.25, 15),
            "in",
        ),
        ("paper 8 1/2 x 11", "8 1/2 x 11", (8.5, 11, None), "in"),
        ('8.5" x 11"', '8.5" x 11"', (8.5, 11, None), "in"),
        ("8.5 x 11 Inches", "8.5 x 11 Inches", (8.5, 11, None), "in"),
        (
            "25-3/4w x 13-7/8d x 29-3/4h",
            "25-3/4w x 13-7/8d x 29-3/4h",
            (25.75, 13.875, 29.75),
            "in",
        ),
        ("Ø 20 mm", "Ø 20 mm", (20, None, None), "mm"),
        ("nails 3.1x90 mm", "3.1x90 mm", (3.1, 90, None), "mm"),
        ("ширина 60 см", "ширина 60 см", (None, 60, None), "cm"),
        ("thickness 5 mm", "thickness 5 mm", (5, None, None), "mm"),
        ('a 3" core', '3"', (3, None, None), "in"),
        ("6' x 8'", "6' x 8'", (6, 8, None), "ft"),
    ],
)
def test_dimensions(text: str, span: str, lwh: tuple[float | None, ...], unit: str) -> None:
    dims = r(text).dimensions
    assert [(d.text, (d.length, d.width, d.height), d.unit) for d in dims] == [(span, lwh, unit)]


@pytest.mark.parametrize(
    "text", ["60x40x40", "кабель ВВГнг-LS 3x2,5", "2.5 mm² wire", "1000 м", "10 in stock", "5 m"]
)
def test_no_dimensions(text: str) -> None:
    assert r(text).dimensions == []


@pytest.mark.parametrize(
    ("text", "span", "lwh", "unit"),
    [
        # axis letters glued to inch marks
        ('20"w x 18"d laminate top', '20"w x 18"d', (20, 18, None), "in"),
        ('expands to a 36"w x 18"d worksurface', '36"w x 18"d', (36, 18, None), "in"),
        ("Stand, 36w x 18d 26-3/4h, Black", "36w x 18d 26-3/4h", (36, 18, 26.75), "in"),
        ('12"W x 16 1/2"D (ID)', '12"W x 16 1/2"D', (12, 16.5, None), "in"),
        # no spaces around the x
        ('ReStockIt 8 1/2"x14 1/2" Sealed', '8 1/2"x14 1/2"', (8.5, 14.5, None), "in"),
        ("4Inx6In labels", "4Inx6In", (4, 6, None), "in"),
        # mixed units of one system: converted into the first axis' unit
        ('Rolls, 48" x 50 ft.', '48" x 50 ft.', (48, 600, None), "in"),
        ('Tape 2" x 60 Yards', '2" x 60 Yards', (2, 2160, None), "in"),
        ('2" x 60 yds', '2" x 60 yds', (2, 2160, None), "in"),
        ("1 ft x 6 in", "1 ft x 6 in", (1, 0.5, None), "ft"),
        ("1.2 m x 600 mm", "1.2 m x 600 mm", (1.2, 0.6, None), "m"),
        # a single length with its axis word after it: the word is in the span
        ('Hon Cabinet 36" Wide', '36" Wide', (36, None, None), "in"),
        ('Files are 19-1/4" deep.', '19-1/4" deep', (19.25, None, None), "in"),
        ('53-1/4" high', '53-1/4" high', (53.25, None, None), "in"),
        ('Four-Drawer53-1/4" high.', '53-1/4" high', (53.25, None, None), "in"),
        ('a 12" long tube', '12" long', (12, None, None), "in"),
        ('1/4" Dia, Clear', '1/4" Dia', (0.25, None, None), "in"),
        ("rod 20 mm dia", "20 mm dia", (20, None, None), "mm"),
        ("cable 5 m long", "5 m long", (5, None, None), "m"),
        ("Ø 20 mm", "Ø 20 mm", (20, None, None), "mm"),
        ("width: 2 in", "width: 2 in", (None, 2, None), "in"),
        ('10 1/2" x 20 1/8"', '10 1/2" x 20 1/8"', (10.5, 20.125, None), "in"),
        # Russian, and an axis legend before a chain
        ("1200x600x2000 мм", "1200x600x2000 мм", (1200, 600, 2000), "mm"),
        ("длина 1,2 м", "длина 1,2 м", (1.2, None, None), "m"),
        ("Ш×Г×В 800×400×1800 мм", "Ш×Г×В 800×400×1800 мм", (800, 400, 1800), "mm"),
        ("ДхШхВ: 60х40х40 см", "ДхШхВ: 60х40х40 см", (60, 40, 40), "cm"),
        ("Size WxDxH 60 x 40 x 40 cm", "WxDxH 60 x 40 x 40 cm", (60, 40, 40), "cm"),
    ],
)
def test_dimensions_in_product_texts(
    text: str, span: str, lwh: tuple[float | None, ...], unit: str
) -> None:
    dims = r(text).dimensions
    assert [(d.text, (d.length, d.width, d.height), d.unit) for d in dims] == [(span, lwh, unit)]


def test_mixed_units_are_not_one_chain() -> None:
    assert [d.text for d in r("10 cm x 5 inches").dimensions] == ["10 cm", "5 inches"]


def test_axis_word_does_not_chain_a_count_or_repeat_an_axis() -> None:
    c = r('12" long 5 pcs')
    assert [d.text for d in c.dimensions] == ['12" long']
    assert [q.text for q in c.quantities] == ["5 pcs"]
    assert [d.text for d in r('Open Base, 30"D 30"D Base').dimensions] == ['30"D', '30"D']


@pytest.mark.parametrize("text", ["10 in high demand", "the 1990's"])
def test_no_dimensions_in_phrases(text: str) -> None:
    assert r(text).dimensions == []


@pytest.mark.parametrize(
    ("text", "span", "value", "unit"),
    [
        ("2.5 kg", "2.5 kg", 2.5, "kg"),
        ("steaks 6 oz. each", "6 oz.", 6, "oz"),
        ("12 кг", "12 кг", 12, "kg"),
        ("500 g", "500 g", 500, "g"),
        ("3 lbs", "3 lbs", 3, "lb"),
        ("Weight: 1.2 kg", "1.2 kg", 1.2, "kg"),
        ("вес 5 кг.", "5 кг", 5, "kg"),
        ("10 т", "10 т", 10, "t"),
        ("180g paper", "180g", 180, "g"),
        ("2 tonnes", "2 tonnes", 2, "t"),
    ],
)
def test_weights(text: str, span: str, value: float, unit: str) -> None:
    assert [(w.text, w.value, w.unit) for w in r(text).weights] == [(span, value, unit)]


@pytest.mark.parametrize("text", ["5G network", "т.е. 5 т.е.", "2 kg/m rail", "4 mg", "12 EUR/kg"])
def test_no_weights(text: str) -> None:
    assert r(text).weights == []


# -- lead times -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "days", "working"),
    [
        ("Lead time: 2 weeks", "2 weeks", 14, False),
        ("delivery within 10 days", "10 days", 10, False),
        ("10 working days", "10 working days", 10, True),
        ("10 business days", "10 business days", 10, True),
        ("3-4 weeks", "3-4 weeks", 28, False),
        ("Item is in stock", "in stock", 0, False),
        ("срок поставки: 5 дней", "5 дней", 5, False),
        ("2 недели", "2 недели", 14, False),
        ("5 рабочих дней", "5 рабочих дней", 5, True),
        ("ships in 48 hours", "48 hours", 2, False),
        ("Срок изготовления 3 недели.", "3 недели", 21, False),
        ("Delivery 10 days after payment", "10 days", 10, False),
        ("от 3 до 5 дней", "3 до 5 дней", 5, False),
        ("delivery in two weeks", "two weeks", 14, False),
        ("Production time: 2 months", "2 months", 60, False),
        ("Товар в наличии", "в наличии", 0, False),
    ],
)
def test_lead_times(text: str, span: str, days: int, working: bool) -> None:
    assert [(x.text, x.days, x.working_days) for x in r(text).lead_times] == [(span, days, working)]


@pytest.mark.parametrize(
    "text",
    [
        "Offer valid for 30 days",
        "Payment 30 days net",
        "payment terms: 30 days",
        "30 days net",
        "отсрочка платежа 30 дней",
        "Предложение действительно 14 дней",
        "Warranty 12 months",
        "During the next two weeks, we",
        "30 day return policy",
        "not in stock",
        "out of stock",
        "a 30-day trial",
        "16 hour blocks",
    ],
)
def test_no_lead_time(text: str) -> None:
    assert r(text).lead_times == []


def test_lead_time_and_payment_in_one_sentence() -> None:
    c = r("Payment 30 days net, delivery 2 weeks.")
    assert [(x.text, x.days) for x in c.lead_times] == [("2 weeks", 14)]
    assert [p.text for p in c.payment_terms] == ["Payment 30 days net"]


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "iso", "role"),
    [
        ("2026-12-31", "2026-12-31", "2026-12-31", "other"),
        ("31.12.2026", "31.12.2026", "2026-12-31", "other"),
        ("12/31/2026", "12/31/2026", "2026-12-31", "other"),
        ("31/12/2026", "31/12/2026", "2026-12-31", "other"),
        ("December 31, 2026", "December 31, 2026", "2026-12-31", "other"),
        ("31 Dec 2026", "31 Dec 2026", "2026-12-31", "other"),
        ("31 декабря 2026 г.", "31 декабря 2026", "2026-12-31", "other"),
        ("до 20.12.2026", "20.12.2026", "2026-12-20", "other"),
        ("Prices are valid until 2026-12-31, FCA", "2026-12-31", "2026-12-31", "valid_until"),
        ("Offer valid till 15.12.2026", "15.12.2026", "2026-12-15", "valid_until"),
        ("Validity: 31 Dec 2026", "31 Dec 2026", "2026-12-31", "valid_until"),
        ("Offer expires December 1, 2026", "December 1, 2026", "2026-12-01", "valid_until"),
        ("Предложение действительно до 2026-12-20.", "2026-12-20", "2026-12-20", "valid_until"),
        ("Цены действуют до 01.02.2027", "01.02.2027", "2027-02-01", "valid_until"),
        ("Срок действия: 31 дек. 2026", "31 дек. 2026", "2026-12-31", "valid_until"),
    ],
)
def test_dates(text: str, span: str, iso: str, role: str) -> None:
    assert [(d.text, d.iso, d.role) for d in r(text).dates] == [(span, iso, role)]


def test_validity_does_not_leak_into_the_next_sentence() -> None:
    c = r("Offer valid for 30 days. Delivery on 01.12.2026")
    assert [(d.iso, d.role) for d in c.dates] == [("2026-12-01", "other")]


@pytest.mark.parametrize("text", ["v1.2.3 and 3.1.90", "31.02.2026", "1 to 3 December", "12/31"])
def test_no_dates(text: str) -> None:
    assert r(text).dates == []


# -- incoterms and payment terms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "rule", "place"),
    [
        ("FCA Gothenburg", "FCA Gothenburg", "FCA", "Gothenburg"),
        ("DAP Berlin, Germany", "DAP Berlin", "DAP", "Berlin"),
        ("EXW Москва", "EXW Москва", "EXW", "Москва"),
        ("FOB Shanghai port", "FOB Shanghai", "FOB", "Shanghai"),
        ("CIF (Incoterms 2020) Rotterdam", "CIF (Incoterms 2020) Rotterdam", "CIF", "Rotterdam"),
        ("delivery DDP our warehouse", "DDP", "DDP", None),
        ("DAT Antwerp", "DAT Antwerp", "DAT", "Antwerp"),
        ("CPT New York", "CPT New York", "CPT", "New York"),
    ],
)
def test_incoterms(text: str, span: str, rule: str, place: str | None) -> None:
    assert [(i.text, i.rule, i.place) for i in r(text).incoterms] == [(span, rule, place)]


@pytest.mark.parametrize("text", ["fob shanghai", "the DATA file", "EXWORKS", "a Fob key"])
def test_no_incoterms(text: str) -> None:
    assert r(text).incoterms == []


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("Payment 30 days net.", "Payment 30 days net"),
        ("Terms: net 30", "net 30"),
        ("30 days net", "30 days net"),
        ("100% prepayment", "100% prepayment"),
        ("50% advance, 50% before shipment.", "50% advance, 50% before shipment"),
        ("оплата 100% предоплата", "оплата 100% предоплата"),
        ("отсрочка платежа 30 дней", "отсрочка платежа 30 дней"),
        ("Payment terms: T/T 30 days after invoice; delivery 2 weeks", "T/T 30 days after invoice"),
        (
            "Условия оплаты: 50% аванс, остаток по факту поставки.",
            "50% аванс, остаток по факту поставки",
        ),
        ("Payment: 30% deposit, 70% balance before shipment, delivery in 4 weeks",
         "30% deposit, 70% balance before shipment"),
    ],
)  # fmt: skip
def test_payment_terms(text: str, span: str) -> None:
    assert [p.text for p in r(text).payment_terms] == [span]


@pytest.mark.parametrize(
    "text", ["I will send the payment tomorrow", "Отгрузка после оплаты счёта", "Оплата\nКомпания"]
)
def test_no_payment_terms(text: str) -> None:
    assert r(text).payment_terms == []


# -- codes and brands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("art. NF-3190", "NF-3190"),
        ("арт. 12345", "12345"),
        ("SKU: AB-1", "AB-1"),
        ("Item #4440.91", "4440.91"),
        ("Item No. 123", "123"),
        ("P/N 70C1XY0", "70C1XY0"),
        ("Part No. 55-A1", "55-A1"),
        ("Model: X", "X"),
        ("Cat. No. 998877", "998877"),
        ("код 12345", "12345"),
        ("артикул СТ-200", "СТ-200"),
        ("Ergonomic chair ErgoPro 300 (EP-300): 20 pcs", "EP-300"),
    ],
)
def test_labelled_codes(text: str, code: str) -> None:
    assert [(c.text, c.labelled) for c in r(text).codes] == [(code, True)]


def test_unlabelled_codes() -> None:
    text = "Tabs RTG31002, container FG295673 (alt T009201), sizes 14000-27-XL and 846641-BLK-7B."
    codes = r(text).codes
    assert [(c.text, c.labelled) for c in codes] == [
        ("RTG31002", False), ("FG295673", False), ("T009201", False), ("14000-27-XL", False),
        ("846641-BLK-7B", False),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "box 60x40x40",
        "valid until 2026-12-31",
        "price $149.00 or 1 250,50 EUR",
        "mail sales@nf-3190.com or www.rtg31002.com",
        "call +7 (495) 123-45-67",
        "Houston TX 77006",
        "13pt stock, 220V, the 32nd, UTF-8, in 2026",
        "Ergonomic office chair",
        "6-pack, 3-yr warranty",
        "20pcs",
        "SKU#  Quantity  Description",
    ],
)
def test_no_codes(text: str) -> None:
    assert r(text).codes == []


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("nails, brand NordFix, art. NF-3190", "NordFix"),
        ("brand: X", "X"),
        ("Index Tabs by Redi-Tag RTG31002", "Redi-Tag"),
        ("Book pockets by Quality Park QUA62273", "Quality Park"),
        ("manufacturer: Acme Corp", "Acme Corp"),
        ("made by Bosch", "Bosch"),
        ("кабель производства Электрокабель:", "Электрокабель"),
        ("производитель: «Электрокабель»", "Электрокабель"),
        ("марка ПрофСтрой", "ПрофСтрой"),
        ("торговая марка Уют", "Уют"),
        ("Canon® ink", "Canon"),
        ("Post-it™ notes", "Post-it"),
        ("a registered trademark of 3M.", "3M"),
        ("Ball Point Pen, Dozen Pen by Pilot PIL30006", "Pilot"),  # "Pen by", not "taken by"
    ],
)
def test_brands(text: str, brand: str) -> None:
    assert [(b.text, b.labelled) for b in r(text).brands] == [(brand, True)]


@pytest.mark.parametrize(
    "text",
    [
        "Paid by Visa: $1",
        "sent by John Smith",
        "brand new chairs",
        "производства России",
        "60 by 40",
        "by 5 pm",
        "ships by DHL",
        "goods Shipped by Acme today",
        "Generic Brand Black Toner Cartridge",
        "Ergonomic Office Chair ErgoPro 300",
    ],
)
def test_no_brands(text: str) -> None:
    assert r(text).brands == []


# -- the sample mails -----------------------------------------------------------------------


def test_sample_nails() -> None:
    c = r(sample("01-en-nails.eml"))
    assert [(m.value, m.currency, m.per, m.role) for m in c.money] == [
        (12.4, "EUR", "box", "price")
    ]
    assert [(q.value, q.unit, q.role) for q in c.quantities] == [
        (500, "boxes", "quantity"), (100, "boxes", "moq"),
    ]  # fmt: skip
    assert [x.days for x in c.lead_times] == [14]
    assert [(d.iso, d.role) for d in c.dates] == [("2026-12-31", "valid_until")]
    assert [(i.rule, i.place) for i in c.incoterms] == [("FCA", "Gothenburg")]
    assert [p.text for p in c.payment_terms] == ["Payment 30 days net"]
    assert [(x.text, x.labelled) for x in c.codes] == [("NF-3190", True)]
    assert [b.text for b in c.brands] == ["NordFix"]
    assert c.currencies == ["EUR"]


def test_sample_chairs() -> None:
    c = r(sample("02-en-html-chairs.eml"))
    assert [(m.text, m.value, m.currency) for m in c.money] == [
        ("$149.00", 149.0, "USD"), ("$389.00", 389.0, "USD"),
    ]  # fmt: skip
    assert [(q.value, q.unit) for q in c.quantities] == [(20, "pcs"), (10, "pcs")]
    assert [(x.text, x.labelled) for x in c.codes] == [("EP-300", True), ("SD-1608", True)]
    assert [(d.length, d.width, d.unit) for d in c.dimensions] == [(160, 80, "cm")]
    assert [x.days for x in c.lead_times] == [10]
    assert [(d.iso, d.role) for d in c.dates] == [("2026-12-15", "valid_until")]


def test_sample_cable_cp1251() -> None:
    c = r(sample("03-ru-cp1251-cable.eml"))
    assert [(m.text, m.value, m.currency, m.per) for m in c.money] == [
        ("85,50 руб.", 85.5, "RUB", "метр")
    ]
    assert [(q.text, q.value, q.unit) for q in c.quantities] == [("1000 м", 1000, "м")]
    assert [x.days for x in c.lead_times] == [5]
    assert [(d.iso, d.role) for d in c.dates] == [("2026-12-20", "valid_until")]
    assert [b.text for b in c.brands] == ["Электрокабель"]
    assert c.dimensions == []  # "3x2,5" is a cross-section without a unit


def test_sample_shelves_koi8() -> None:
    # "стеллаж металлический СТ-200, размеры 1200x600x2000 мм, вес 45 кг. Цена 12 500 руб. за
    # штуку, минимальная партия 5 шт. Срок изготовления 3 недели."
    c = r(sample("04-ru-koi8-shelves.eml"))
    assert [(m.value, m.currency, m.per, m.role) for m in c.money] == [
        (12500, "RUB", "штуку", "price")
    ]
    assert [(d.length, d.width, d.height, d.unit) for d in c.dimensions] == [
        (1200, 600, 2000, "mm")
    ]
    assert [(w.value, w.unit) for w in c.weights] == [(45, "kg")]
    assert [(q.value, q.unit, q.role) for q in c.quantities] == [(5, "шт", "moq")]
    assert [x.days for x in c.lead_times] == [21]
    assert [x.text for x in c.codes] == ["СТ-200"]


def test_sample_boxes_without_price() -> None:
    c = r(sample("05-en-boxes-no-price.eml"))
    assert c.money == []
    assert [(d.length, d.width, d.height, d.unit) for d in c.dimensions] == [(60, 40, 40, "cm")]
    assert [(q.value, q.unit, q.role) for q in c.quantities] == [(2000, "pcs", "moq")]
    assert [b.text for b in c.brands] == ["PackRight"]
    assert c.codes == []  # "60x40x40" is a dimension


def test_sample_newsletter_has_no_offer_values() -> None:
    c = r(sample("06-en-newsletter.eml"))
    assert c.money == c.quantities == c.lead_times == c.codes == []


def test_spans_hold_on_every_sample_and_dev_mail() -> None:
    paths = sorted(SAMPLES.glob("*.eml")) + sorted(DEV.glob("*/*.eml"))
    for path in paths:
        raw = path.read_bytes()
        text = parse_mail(raw, max_bytes=10_000_000, max_parts=50, max_text_chars=100_000).text
        check_spans(text, read(text))


# -- robustness and speed -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "", "1" * 5000, " " * 5000, "-" * 5000, "x" * 5000, "1 " * 3000, "1x" * 3000,
        "a@" * 3000, "EUR " * 2000, ".," * 3000, "Цена: " * 1000, "by A " * 1000,
        "12.40 EUR per " * 500, "(1)" * 2000, "\n" * 5000,
    ],
)  # fmt: skip
@pytest.mark.timeout(30)  # a hang guard for catastrophic backtracking, not a speed figure
def test_pathological_inputs_end(text: str) -> None:
    r(text)


def test_a_20_kb_mail_is_read_with_exact_spans() -> None:
    """Speed is measured by ``tests/bench/readers_speed.py``; here only correctness at size."""
    text = "\n\n".join(sample(p.name) for p in sorted(SAMPLES.glob("*.eml")))
    text = (text * (20_000 // len(text) + 1))[:20_000]
    found = read(text)
    assert len(found.money) >= 20
    for group in dataclasses.astuple(found):
        for c in group:
            if hasattr(c, "start"):
                assert text[c.start : c.end] == c.text
