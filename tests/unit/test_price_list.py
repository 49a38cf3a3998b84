"""A price list in the mail body becomes one item per row, read without the model.

The LLM client points at a closed port: a model call would fail the extraction, so these tests
also prove that a table with a recognised header costs no model call.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

from appliance.extract.extractor import extract_offer
from appliance.extract.llm_client import LLMClient
from appliance.settings import load_settings
from tests.helpers import free_port


def _mail(body: str, *, html: str | None = None, subject: str = "Price list") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Sales <sales@fixings.example>"
    msg["To"] = "buyer@example.com"
    msg["Subject"] = subject
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    return bytes(msg)


def _extract(raw: bytes):
    settings = load_settings(env={})
    settings.llm.max_retries = 0
    client = LLMClient(settings.llm, base_url=f"http://127.0.0.1:{free_port()}/v1")

    async def run():
        try:
            return await extract_offer(raw, settings, client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_a_40_row_text_price_list_is_40_items():
    rows = [
        f"| Hex bolt M{6 + i % 10}x{20 + i} zinc | HB-{1000 + i} | {100 + i} | {price:.2f} |"
        for i, price in ((i, 0.1 + i / 100) for i in range(40))
    ]
    body = (
        "Hello,\n\nplease find our current prices below.\n\n"
        "| Product | Art. | Qty | Price, EUR |\n|---|---|---|---|\n"
        + "\n".join(rows[:20])
        + "\nNuts and washers\n"  # a section row
        + "| Product | Art. | Qty | Price, EUR |\n"  # the header repeated on the next page
        + "\n".join(rows[20:])
        + "\n| Total | | | 123.40 |\n\n"
        + "Prices valid until 2026-12-31, EXW Hamburg.\n\nFixings GmbH\n"
    )
    ex = _extract(_mail(body))
    items = ex.offer.items
    assert len(items) == 40
    assert ex.completion.completion_tokens == 0  # no model call
    assert items[0].product_name == "Hex bolt M6x20 zinc"
    assert items[0].sku == "HB-1000" and items[0].quantity == 100
    assert items[0].unit_price == 0.10 and items[0].currency == "EUR"
    assert items[39].sku == "HB-1039" and items[39].unit_price == 0.49
    assert ex.offer.valid_until == "2026-12-31" and ex.offer.incoterms == "EXW Hamburg"
    assert ex.offer.supplier.name == "Fixings GmbH"


def test_an_html_price_list_in_russian():
    cells = "".join(
        f"<tr><td>Кабель ВВГнг 3x{i}</td><td>VVG-{i}</td><td>{i * 10},50 руб.</td></tr>"
        for i in range(1, 13)
    )
    html = (
        "<p>Добрый день! Направляем прайс-лист.</p><table><tr><th>Наименование</th>"
        f"<th>Артикул</th><th>Цена</th></tr>{cells}</table><p>С уважением, ООО «Кабель»</p>"
    )
    ex = _extract(_mail("see HTML", html=html, subject="Прайс-лист"))
    assert len(ex.offer.items) == 12
    assert ex.offer.items[2].product_name == "Кабель ВВГнг 3x3"
    assert ex.offer.items[2].unit_price == 30.5 and ex.offer.items[2].currency == "RUB"


def test_labelled_values_on_one_line_are_a_row_each():
    body = (
        "Thanks for your order.\n\n"
        "Item=Cordless drill DX-18 with case Qty=2 Price=$129.00\n"
        "Item=Spare battery 18V 2Ah Qty=4 Price=$39.50\n"
    )
    items = _extract(_mail(body, subject="Your order")).offer.items
    assert [(i.product_name, i.quantity, i.unit_price) for i in items] == [
        ("Cordless drill DX-18 with case", 2, 129.0),
        ("Spare battery 18V 2Ah", 4, 39.5),
    ]


def test_amounts_without_a_quantity_the_last_one_prices_and_nil_lines_are_no_items():
    body = (
        "Service charges              One-off      Monthly\n"
        "Fibre line 100 Mbit          $49.00       $29.90\n"
        "Static IP address            $0.00        $5.00\n"
        "Router rental                $0.00        $0.00\n"
        "Installation waiver          ($49.00)     $0.00\n"
        "Managed firewall, per month  $12.00/month\n"
    )
    items = _extract(_mail(body, subject="Quote")).offer.items
    got = [(i.product_name, i.unit_price, i.total_price, i.unit) for i in items]
    assert got == [
        ("Fibre line 100 Mbit", 29.9, None, None),
        ("Static IP address", 5.0, None, None),
        ("Managed firewall, per month", 12.0, None, "month"),
    ]


def test_a_product_number_column_is_the_code_not_the_name():
    body = (
        "Qty\tPrice\tProduct No.\tDescription\n"
        "1\t$54.00\t77120045\tTrail running shoe, size 44\n"
        "2\t$12.50\t77120099\tMerino socks, 3 pairs\n"
    )
    items = _extract(_mail(body, subject="Order confirmation")).offer.items
    assert [(i.product_name, i.sku, i.quantity, i.unit_price) for i in items] == [
        ("Trail running shoe, size 44", "77120045", 1, 54.0),
        ("Merino socks, 3 pairs", "77120099", 2, 12.5),
    ]


def test_counted_lines_are_items_however_they_are_spaced():
    body = (
        "We have received your order for the following:\n\n"
        "4 boxes of Wood screws 4x40 @ $5.50 =  $ 22.00\n"
        "2 boxes of Wood screws 5x60 @ $7.00 = $ 14.00\n"
        "1 box of Wall plugs 8 mm @ $3.25 = $ 3.25\n\n"
        "The total charge for your order was $39.25.\n"
    )
    items = _extract(_mail(body, subject="Order confirmation")).offer.items
    got = [(i.product_name, i.quantity, i.unit_price, i.total_price) for i in items]
    assert got == [
        ("Wood screws 4x40", 4, 5.5, 22.0),
        ("Wood screws 5x60", 2, 7.0, 14.0),
        ("Wall plugs 8 mm", 1, 3.25, 3.25),
    ]


def test_key_value_blocks_are_items_one_per_block():
    body = (
        "Order ID: 39785\n"
        "1---------------------------------\n"
        "Product Code :4440.91\n"
        "Poduct Name  :Charcoal Water Filters, 6-pack\n"
        "Attributes   :\n"
        "Quantity     :1\n"
        "Unit Price   :$19.00\n"
        "Total Price  :$19.00\n"
        "***********************************\n"
        "Shipping     :$3.00\n\n"
        "Item: Cable drum stand, steel\n"
        "Price: $87.05 per pc\n"
        "Weight: 26.5 kg\n\n"
        "Item: Power cable NYM-J 3x2.5\n"
        "Item code: NYM-270-36\n"
        "Brand: Lapp\n"
        "Quantity: 500 m\n"
        "Price: $1.45\n\n"
        "Bill To Name: Mark Taylor\n"
    )
    items = _extract(_mail(body, subject="Order")).offer.items
    got = [
        (i.product_name, i.sku, i.brand, i.quantity, i.unit, i.unit_price, i.total_price)
        for i in items
    ]
    assert got == [
        ("Charcoal Water Filters, 6-pack", "4440.91", None, 1, None, 19.0, 19.0),
        ("Cable drum stand, steel", None, None, None, "pc", 87.05, None),
        ("Power cable NYM-J 3x2.5", "NYM-270-36", "Lapp", 500, "m", 1.45, None),
    ]
    assert items[1].weight is not None and items[1].weight.value == 26.5


def test_an_unpriced_key_value_block_with_a_quantity_is_an_item_without_the_model():
    # "Product: … / Quantity: …" and no price: an offer still to be priced, read the same way
    # every time (no model call; the client points at a closed port).
    body = (
        "Hello,\n\nour offer:\n\n"
        "Product: Steel shelf 180x90x40 cm\nQuantity: 100 pcs\nLead time: 10 days\n\n"
        "Best regards,\nSupplier 5\n"
    )
    items = _extract(_mail(body, subject="Offer: Steel shelf")).offer.items
    got = [(i.product_name, i.quantity, i.unit, i.unit_price, i.lead_time_days) for i in items]
    assert got == [("Steel shelf 180x90x40 cm", 100, "pcs", None, 10)]


def test_lines_that_equate_a_product_with_its_price_are_items():
    body = (
        "Joya,\nHere's a break down of the two stations.\n\n"
        'Wooden Private Office "E" Station = $2100. each\n\n'
        'Laminate Private Office "E" Station = $750. each\n\n'
        "Feel free to call me.\n"
    )
    items = _extract(_mail(body, subject="Office pricing")).offer.items
    got = [(i.product_name, i.unit_price, i.unit, i.currency) for i in items]
    assert got == [
        ('Wooden Private Office "E" Station', 2100, "each", "USD"),
        ('Laminate Private Office "E" Station', 750, "each", "USD"),
    ]


def test_a_count_column_with_one_amount_reads_the_amount_as_the_line_total():
    body = (
        "Below is a summary of your order.\n\n"
        "27  4x6 Print (4x6)                                        $13.23\n\n"
        "    Shipping (USPS1PRNT01)                                 $2.49\n"
    )
    items = _extract(_mail(body, subject="Your order")).offer.items
    got = [(i.product_name, i.quantity, i.unit_price, i.total_price) for i in items]
    assert got == [("4x6 Print (4x6)", 27, None, 13.23)]
