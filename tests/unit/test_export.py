"""Labels exported from approved offers hold only what the exported mail states."""

from __future__ import annotations

from finetune.export import label_for_mail

OFFER = {
    "supplier": {"name": "BoxWorks", "email": "anna@boxworks.example"},
    "language": "en", "valid_until": None, "incoterms": "DAP Berlin", "payment_terms": None,
    "items": [{"product_name": "Corrugated box", "quantity": 500, "unit_price": 0.85,
               "currency": "EUR", "lead_time_days": 10}],
    "provenance": [
        {"item": 0, "field": "product_name", "mail_id": 1, "current": True},
        {"item": 0, "field": "lead_time_days", "mail_id": 1, "current": True},
        {"item": 0, "field": "quantity", "mail_id": 2, "current": True},
        {"item": 0, "field": "unit_price", "mail_id": 2, "current": True},
        {"item": 0, "field": "unit_price", "mail_id": 1, "current": False},
        {"item": 0, "field": "currency", "mail_id": 2, "current": True},
        {"item": None, "field": "incoterms", "mail_id": 2, "current": True},
    ],
}  # fmt: skip


def test_values_from_other_mails_only_where_this_mail_states_them() -> None:
    text = "Product: Corrugated box\nQuantity: 500 pcs\nLead time: 10 days\n"
    label = label_for_mail(OFFER, 1, text)
    item = label["items"][0]
    assert item["product_name"] == "Corrugated box" and item["lead_time_days"] == 10
    assert item["quantity"] == 500  # answered in mail 2, but mail 1 says it too
    assert item["unit_price"] is None and item["currency"] is None
    assert label["incoterms"] is None and label["supplier"]["name"] == "BoxWorks"
    reply = label_for_mail(OFFER, 2, "Unit price: 0.85 EUR\nQuantity: 500\nDAP Berlin")
    assert reply["items"] == []  # the reply does not name the product: no item to learn
