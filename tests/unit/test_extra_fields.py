"""Extra fields configured in ``[[extraction.fields]]`` flow end to end: an offer stored by the
server's own writers after extraction carries them in the API (offer and item list), the CSV and
Parquet exports, the dashboard's offer page, corrections, the dialogue and the training labels.

The model's answer is given here (the one step not run); everything after it is the production
code the extract worker and the server run: preprocessing, the contract's validation with the
configured fields, the evidence check, spans, the answer form, ``dialogue.save_extraction``, the
Litestar app.
"""

from __future__ import annotations

import csv
import io
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest
import redis
from litestar.testing import TestClient

from appliance.api.app import AppContext, create_app
from appliance.auth import tokens
from appliance.extract.contract import Offer
from appliance.extract.evidence import Evidence, check_evidence, unfound_values
from appliance.extract.fields import contract_context, extra_fields
from appliance.mail.blobstore import BlobStore
from appliance.messages import ExtractionOutcome, MailMeta, RecordMail
from appliance.preprocess import parse_mail
from appliance.settings import Settings
from appliance.store import queries, repo, suppliers
from appliance.store.db import Database
from appliance.workflow import dialogue, reading
from finetune.export import label_for_mail

SUPPLIER = "anna@boxworks.example"
BOX = "Corrugated box 40x30x20 cm"
BODY = (
    f"Hello,\n\nwe offer {BOX}: 500 pcs at 0.85 EUR each, lead time 10 days.\n"
    "Colour: red. Warranty 24 months.\nWe deliver to the Nordics.\n\nAnna Berg\n"
)
# What the model answers for BODY (the part this test does not run).
MODEL_OUTPUT: dict[str, Any] = {
    "supplier": {"name": "BoxWorks", "email": None},
    "items": [{
        "product_name": BOX, "quantity": 500, "unit_price": 0.85, "currency": "EUR",
        "lead_time_days": 10, "extra": {"color": "red", "warranty_months": 24},
    }],
    "valid_until": None, "incoterms": None, "payment_terms": None,
    "extra": {"delivery_zone": "Nordics"},
}  # fmt: skip


def make_settings(tmp_path: Path, **more: Any) -> Settings:
    """Settings with a registered supplier and the extra fields ``color`` (item text),
    ``warranty_months`` (item integer, required) and ``delivery_zone`` (offer text)."""
    return Settings.model_validate(
        {
            "paths": {"data_dir": str(tmp_path)},
            "suppliers": [{"name": "BoxWorks", "domains": ["boxworks.example"]}],
            "outbox": {"from_addr": "purchasing@buyer.example"},
            "extraction": {"fields": [
                {"name": "color", "type": "text", "label": "Colour",
                 "description": "the product's colour"},
                {"name": "warranty_months", "type": "integer", "label": "Warranty (months)",
                 "description": "the warranty in months", "required": True},
                {"name": "delivery_zone", "level": "offer", "label": "Delivery zone"},
            ]},
            **more,
        }
    )  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def db(tmp_path: Path, settings: Settings) -> Database:
    d = Database.open(tmp_path / "x.duckdb")
    suppliers.sync_registry(d, settings.suppliers)
    return d


def _mail(n: int, body: str, subject: str, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Anna Berg <{SUPPLIER}>"
    msg["To"] = "purchasing@buyer.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<m{n}@boxworks.example>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


def store_extraction(
    db: Database, settings: Settings, n: int, raw: bytes, model_output: dict[str, Any]
) -> int:
    """Record one mail and hand the server what the extract worker would for it, given the
    model's answer; returns the mail id."""
    sha = BlobStore(settings.paths.blob_dir).put(raw)
    mail = parse_mail(raw)
    rec = repo.record_mail(
        db, RecordMail(key=f"a/INBOX/1/{n}", account="a", folder="INBOX", uidvalidity=1,
                       uid=str(n), sha256=sha, size=len(raw),
                       meta=MailMeta(message_id=mail.message_id, subject=mail.subject,
                                     from_name=mail.from_name, from_addr=mail.from_addr)),
    )  # fmt: skip
    extra = extra_fields(settings)
    offer = Offer.model_validate(
        {**model_output, "language": "en"}, context=contract_context(extra)
    )
    sender = f"{mail.from_name} <{mail.from_addr}>"
    checked, dropped = check_evidence(offer, Evidence(mail.subject, sender, mail.text))
    out = ExtractionOutcome(
        mail_id=rec.mail_id, sha256=sha, model="m", language="en",
        offer=checked.model_dump(mode="json"), thread=reading.thread_facts(mail),
        spans=reading.value_spans(checked, mail.text), unfound=unfound_values(offer, dropped),
        answers=reading.form_answers(mail.text, extra),
    )  # fmt: skip
    dialogue.save_extraction(db, settings, out)
    return rec.mail_id


@pytest.fixture
def client(db: Database, settings: Settings) -> Any:
    app = create_app(AppContext(settings=settings, db=db, redis=redis.Redis.from_url("redis://")))
    _, token = tokens.create_token(db, "test", ["read", "review", "export"], created_by="t")
    with TestClient(app=app) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def _offer_id(db: Database, mail_id: int) -> int:
    return int(db.scalar("SELECT id FROM offers WHERE mail_id = ?", [mail_id]))


def test_extra_fields_in_api_exports_and_dashboard(
    db: Database, settings: Settings, client: Any, tmp_path: Path
) -> None:
    mail_id = store_extraction(db, settings, 1, _mail(1, BODY, "Offer: boxes"), MODEL_OUTPUT)
    offer_id = _offer_id(db, mail_id)

    # The API: the offer in the contract's shape, extra values on the item and the offer.
    r = client.get(f"/api/v1/offers/{offer_id}")
    assert r.status_code == 200, r.text
    offer = r.json()
    assert offer["items"][0]["extra"] == {"color": "red", "warranty_months": 24}
    assert offer["extra"] == {"delivery_zone": "Nordics"}
    assert offer["state"] == "complete"  # the required warranty is there
    prov = {(p["item"], p["field"]): p for p in offer["provenance"]}
    color = prov[(0, "extra.color")]
    assert color["value"] == "red" and color["mail_id"] == mail_id and color["text"] == "red"
    assert prov[(0, "extra.warranty_months")]["text"] == "24"
    assert prov[(None, "extra.delivery_zone")]["value"] == "Nordics"
    items = client.get("/api/v1/items").json()["items"]
    assert items[0]["extra"] == {"color": "red", "warranty_months": 24}

    # CSV and Parquet: one typed column per configured field of the level.
    r = client.get("/api/v1/export/items", params={"format": "csv"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert (rows[0]["extra_color"], rows[0]["extra_warranty_months"]) == ("red", "24")
    assert "extra_delivery_zone" not in rows[0]
    r = client.get("/api/v1/export/offers", params={"format": "csv"})
    offer_rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [o["extra_delivery_zone"] for o in offer_rows] == ["Nordics"]
    r = client.get("/api/v1/export/items", params={"format": "parquet"})
    assert r.status_code == 200
    path = tmp_path / "items.parquet"
    path.write_bytes(r.content)
    with duckdb.connect() as con:
        got = con.execute(
            "SELECT product_name, extra_color, extra_warranty_months FROM read_parquet(?)",
            [str(path)],
        ).fetchall()
        typ = con.execute(
            "SELECT typeof(extra_warranty_months) FROM read_parquet(?)", [str(path)]
        ).fetchone()
    assert got == [(BOX, "red", 24)] and typ == ("BIGINT",)

    # The dashboard's offer page: the values under their labels, editable, marked in the mail.
    r = client.get(f"/offers/{offer_id}")
    assert r.status_code == 200, r.text
    html = r.text
    assert "<td>Colour</td>" in html and "<td>Warranty (months)</td>" in html
    assert "<td>Delivery zone</td>" in html
    assert 'data-field="extra.color"' in html and 'data-path="items[0].extra.color"' in html
    assert 'value="red"' in html and 'value="24"' in html and 'value="Nordics"' in html
    assert 'data-field="extra.warranty_months" data-item="0"' in html

    # Training data: the label holds what the mail states, extra values included.
    stored = queries.get_offer(db, offer_id)
    label = label_for_mail(stored, mail_id, parse_mail(_mail(1, BODY, "Offer: boxes")).text)
    assert label["items"][0]["extra"] == {"color": "red", "warranty_months": 24}
    assert label["extra"] == {"delivery_zone": "Nordics"}


def test_extra_fields_are_corrected_through_the_api(
    db: Database, settings: Settings, client: Any
) -> None:
    mail_id = store_extraction(db, settings, 1, _mail(1, BODY, "Offer: boxes"), MODEL_OUTPUT)
    offer_id = _offer_id(db, mail_id)
    r = client.post(
        f"/api/v1/offers/{offer_id}/corrections",
        json={"items": {"0": {"extra.color": "dark blue", "extra": {"warranty_months": "36"}}},
              "fields": {"extra.delivery_zone": None}, "comment": "catalogue"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    applied = {(a["item_position"], a["field"]): (a["before"], a["after"]) for a in body["applied"]}
    assert applied == {
        (None, "extra.delivery_zone"): ("Nordics", None),
        (0, "extra.color"): ("red", "dark blue"),
        (0, "extra.warranty_months"): (24, 36),
    }
    assert body["items"][0]["extra"] == {"color": "dark blue", "warranty_months": 36}
    assert body["extra"] == {}
    history = [p for p in body["provenance"] if p["field"] == "extra.color"]
    assert [(p["value"], p["current"], p["source"]) for p in history] == [
        ("red", False, "llm"), ("dark blue", True, "user:token:test"),
    ]  # fmt: skip
    # A value not of the field's type, or a field not configured: 400, nothing written.
    for change in ({"extra.warranty_months": "two years"}, {"extra.size": "L"}):
        r = client.post(f"/api/v1/offers/{offer_id}/corrections", json={"items": {"0": change}})
        assert r.status_code == 400, r.text
    r = client.post(
        f"/api/v1/offers/{offer_id}/corrections",
        json={"add_items": [{"product_name": "Tape", "extra.color": "brown"}]},
    )
    assert r.status_code == 200 and r.json()["items"][1]["extra"] == {"color": "brown"}
    assert queries.get_offer(db, offer_id)["items"][0]["extra"]["warranty_months"] == 36


def test_required_extra_field_is_asked_and_the_answer_merged(
    db: Database, settings: Settings
) -> None:
    output = {**MODEL_OUTPUT, "items": [{**MODEL_OUTPUT["items"][0], "extra": {"color": "red"}}]}
    body = BODY.replace("Warranty 24 months.", "")
    mail_id = store_extraction(db, settings, 1, _mail(1, body, "Offer: boxes"), output)
    offer_id = _offer_id(db, mail_id)
    offer = queries.get_offer(db, offer_id)
    assert offer["state"] == "awaiting_supplier"
    assert offer["missing"]["items"] == {"0": ["extra.warranty_months"]}
    question = db.scalar("SELECT raw FROM outbox WHERE offer_id = ?", [offer_id]).decode()
    assert "Warranty (months):" in question
    token = offer["reference"]
    reply = f"1. {BOX}\n   Warranty (months): 36\n"
    no_llm = {"supplier": {}, "items": []}
    store_extraction(
        db, settings, 2, _mail(2, reply, f"Re: Offer [{token}]", "<m1@boxworks.example>"), no_llm
    )
    offer = queries.get_offer(db, offer_id)
    assert offer["items"][0]["extra"] == {"color": "red", "warranty_months": 36}
    assert offer["state"] == "complete"
    form = [p for p in offer["provenance"] if p["field"] == "extra.warranty_months"]
    assert [(p["source"], p["text"]) for p in form] == [("form", "36")]
