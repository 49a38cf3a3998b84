"""Labels exported from approved offers hold only what the exported mail states, with the
reviewers' corrections as the gold."""

from __future__ import annotations

from pathlib import Path

from appliance.settings import Settings
from appliance.store import corrections, queries
from appliance.store.db import Database
from finetune.export import label_for_mail
from tests.unit.test_corrections import BOX, TAPE, Mails

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


def test_reviewers_corrections_are_the_label(tmp_path: Path) -> None:
    settings = Settings()
    db = Database.open(tmp_path / "e.duckdb")
    mails = Mails(db, settings)
    offer_id = mails.offer(BOX, TAPE)
    corrections.correct(
        db, offer_id, user="rita", items={0: {"unit_price": 0.79}}, remove_items=[1],
        add_items=[{"product_name": "Foam sheet", "quantity": 1000}],
    )  # fmt: skip
    corrections.approve(db, offer_id, user="rita")
    offer = queries.get_offer(db, offer_id)
    text = "Corrugated box 40x30x20 cm: 500 pcs at 0.85 EUR, 10 days. Foam sheet 1000 pcs."
    label = label_for_mail(offer, 1, text)
    # The corrected price names the first mail: it is the gold even though the mail says 0.85.
    assert [(i["product_name"], i["unit_price"]) for i in label["items"]] == [
        (BOX["product_name"], 0.79),
        ("Foam sheet", None),
    ]
    assert label["items"][1]["quantity"] == 1000
    assert label["reviewed_by"] == "rita" and label["reviewed_at"] == offer["reviewed_at"]
