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
