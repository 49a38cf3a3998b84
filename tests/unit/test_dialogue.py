"""The supplier dialogue on a real DuckDB file: states, questions, merges, suppressions.

Extraction outcomes are built by hand here (the model's part is covered by the integration
tests); everything after the model runs as in production.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest

from appliance.messages import ExtractionOutcome, MailMeta, RecordMail, ThreadInfo
from appliance.settings import Settings, SupplierSettings
from appliance.store import queries, repo, suppliers
from appliance.store.db import Database
from appliance.workflow import dialogue, reading

SUPPLIER = "anna@boxworks.example"
BOXES = {"product_name": "Corrugated box 40x30x20 cm", "lead_time_days": 10}


@pytest.fixture
def settings() -> Settings:
    return Settings(
        suppliers=[SupplierSettings(name="BoxWorks", domains=["boxworks.example"])],
        outbox={"from_addr": "purchasing@buyer.example"},
    )


@pytest.fixture
def db(tmp_path: Path, settings: Settings) -> Database:
    d = Database.open(tmp_path / "d.duckdb")
    suppliers.sync_registry(d, settings.suppliers)
    return d


_n = 0


def _mail(
    db: Database,
    settings: Settings,
    items: list[dict[str, Any]],
    *,
    sender: str = SUPPLIER,
    subject: str = "Offer: boxes",
    in_reply_to: str | None = None,
    text: str = "",
    headers: dict[str, str] | None = None,
    language: str = "en",
) -> tuple[str, list[Any]]:
    global _n
    _n += 1
    mid = f"<m{_n}@boxworks.example>"
    rec = repo.record_mail(
        db, RecordMail(key=f"a/INBOX/1/{_n}", account="a", folder="INBOX", uidvalidity=1,
                       uid=str(_n), sha256=f"{_n:064d}", size=10,
                       meta=MailMeta(message_id=mid, from_addr=sender)),
    )  # fmt: skip
    from appliance.workflow.policy import automatic_mail_reasons

    out = ExtractionOutcome(
        mail_id=rec.mail_id, sha256=f"{_n:064d}", model="m", language=language,
        offer={"items": items, "language": language, "supplier": {"email": sender}},
        thread=ThreadInfo(message_id=mid, in_reply_to=in_reply_to,
                          references=[in_reply_to] if in_reply_to else [], subject=subject,
                          from_addr=sender, from_name="Anna Berg",
                          automatic=automatic_mail_reasons(headers or {}, sender)),
        answers=reading.form_answers(text),
    )  # fmt: skip
    result, deliveries = dialogue.save_extraction(db, settings, out)
    return result, deliveries


def _offer(db: Database, offer_id: int = 1) -> dict[str, Any]:
    return queries.get_offer(db, offer_id)


def _states(offer: dict[str, Any]) -> list[str]:
    return [h["to_state"] for h in offer["history"]]


def test_missing_price_asks_once_and_the_reply_completes_the_offer(
    db: Database, settings: Settings
) -> None:
    result, sent = _mail(db, settings, [BOXES])
    assert result == "extracted" and len(sent) == 1
    offer = _offer(db)
    assert offer["state"] == "awaiting_supplier"
    assert _states(offer) == ["extracted", "incomplete", "awaiting_supplier"]
    assert offer["missing"]["items"] == {"0": ["unit_price", "currency", "quantity|moq"]}
    msg = email.message_from_bytes(sent[0].raw, policy=email.policy.default)
    assert msg["To"] == SUPPLIER and msg["In-Reply-To"] == "<m1@boxworks.example>"
    assert msg["References"] == "<m1@boxworks.example>"
    assert f"[{offer['reference']}]" in msg["Subject"] and msg["Subject"].startswith("Re: ")
    assert msg["Auto-Submitted"] == "auto-replied"
    body = msg.get_content()
    assert "1. Corrugated box 40x30x20 cm" in body and "Unit price:" in body
    # The reply fills the form (and quotes us); matched by In-Reply-To.
    reply = (
        "Hello,\n\n1. Corrugated box 40x30x20 cm\n   Unit price: 0.85 EUR\n"
        "   Quantity or minimum order: 500\n\nBest regards, Anna\n"
    )
    result, sent2 = _mail(db, settings, [], in_reply_to=msg["Message-ID"], text=reply,
                          subject=msg["Subject"])  # fmt: skip
    assert result == "extracted"
    offer = _offer(db)
    assert offer["state"] == "complete", offer["history"]
    item = offer["items"][0]
    assert (item["unit_price"], item["currency"], item["quantity"]) == (0.85, "EUR", 500)
    price = next(p for p in offer["provenance"] if p["field"] == "unit_price")
    assert price["mail_id"] == 2 and price["source"] == "form" and price["text"] == "0.85 EUR"
    assert offer["source_mail_ids"] == [1, 2]
    assert [e["kind"] for e in offer["emails"]] == ["clarification", "ack"]
    assert len(sent2) == 1 and b"Auto-Submitted: auto-replied" in sent2[0].raw


def test_partial_answer_asks_the_rest_then_review_after_the_last_round(
    db: Database, settings: Settings
) -> None:
    _, sent = _mail(db, settings, [BOXES])
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    _, sent = _mail(db, settings, [], in_reply_to=mid, text="Unit price: 0.85\n")
    offer = _offer(db)
    assert offer["state"] == "awaiting_supplier" and offer["rounds"] == 2
    body = email.message_from_bytes(sent[0].raw, policy=email.policy.default).get_content()
    assert "Unit price" not in body and "Currency:" in body
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    _, sent = _mail(db, settings, [], in_reply_to=mid, text="Currency: EUR\n")
    offer = _offer(db)
    assert offer["state"] == "needs_review" and not sent
    assert "after 2 round" in offer["history"][-1]["reason"]


def test_reply_from_another_address_does_not_merge(db: Database, settings: Settings) -> None:
    _, sent = _mail(db, settings, [BOXES])
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    _, sent = _mail(db, settings, [], sender="x@evil.example", in_reply_to=mid,
                    text="Unit price: 0.01\nCurrency: USD\n")  # fmt: skip
    offer = _offer(db)
    assert offer["items"][0]["unit_price"] is None and offer["source_mail_ids"] == [1]
    assert not sent
    events = queries.get_mail(db, 2)["events"]
    assert any(e["outcome"] == "thread_sender_mismatch" for e in events)


def test_automatic_mail_gets_no_answer(db: Database, settings: Settings) -> None:
    _, sent = _mail(db, settings, [BOXES], headers={"Auto-Submitted": "auto-generated"})
    assert not sent
    offer = _offer(db)
    assert offer["state"] == "needs_review"
    assert offer["emails"][0]["state"] == "suppressed"
    assert "auto-submitted: auto-generated" in offer["emails"][0]["reason"]


def test_unknown_sender_policy_review(db: Database, settings: Settings) -> None:
    settings.dialogue.unknown_senders = "review"
    _, sent = _mail(db, settings, [BOXES], sender="someone@else.example")
    assert not sent and _offer(db)["state"] == "needs_review"
    assert "not in the supplier registry" in _offer(db)["emails"][0]["reason"]


def test_daily_limit_suppresses(db: Database, settings: Settings) -> None:
    settings.dialogue.max_per_day = 1
    _, first = _mail(db, settings, [BOXES])
    _, second = _mail(db, settings, [{**BOXES, "product_name": "Pallet wrap"}])
    assert len(first) == 1 and not second
    assert "daily limit" in _offer(db, 2)["emails"][0]["reason"]


def test_complete_offer_is_acknowledged_or_not_per_supplier(
    db: Database, settings: Settings
) -> None:
    full = {**BOXES, "unit_price": 1.0, "currency": "EUR", "quantity": 10}
    _, sent = _mail(db, settings, [full])
    assert _offer(db)["state"] == "complete" and len(sent) == 1
    settings.suppliers[0].acknowledgements = False
    suppliers.sync_registry(db, settings.suppliers)
    _, sent = _mail(db, settings, [full])
    assert not sent and _offer(db, 2)["emails"][0]["state"] == "suppressed"


def test_furniture_needs_dimensions(db: Database, settings: Settings) -> None:
    desk = {"product_name": "Office desk", "unit_price": 100, "currency": "EUR", "moq": 1,
            "lead_time_days": 14}  # fmt: skip
    _mail(db, settings, [desk])
    assert _offer(db)["missing"]["items"] == {"0": ["dimensions"]}


def test_reminder_then_review_when_nobody_answers(db: Database, settings: Settings) -> None:
    _mail(db, settings, [BOXES])
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=49)
    reminders = dialogue.due_actions(db, settings, later)
    assert len(reminders) == 1
    assert b"X-Appliance-Kind: reminder" in reminders[0].raw
    detail = queries.get_offer(db, 1)
    ours, theirs = detail["emails"][0]["message_id"], detail["thread"][0]["message_id"]
    msg = email.message_from_bytes(reminders[0].raw)
    assert msg["In-Reply-To"] == ours
    assert msg["References"].split() == [theirs, ours]
    assert dialogue.due_actions(db, settings, later) == []
    assert dialogue.due_actions(db, settings, later + dt.timedelta(hours=49)) == []
    offer = _offer(db)
    assert offer["state"] == "needs_review" and "after a reminder" in offer["history"][-1]["reason"]


def test_supplier_correcting_a_price_is_kept_in_history_and_flagged(
    db: Database, settings: Settings
) -> None:
    full = {**BOXES, "unit_price": 1.0, "currency": "EUR", "quantity": 10}
    _mail(db, settings, [full])
    token = _offer(db)["reference"]
    _mail(db, settings, [{**full, "unit_price": 0.9}], subject=f"Re: boxes [{token}]")
    offer = _offer(db)
    assert offer["items"][0]["unit_price"] == 0.9 and offer["state"] == "needs_review"
    hist = [p for p in offer["provenance"] if p["field"] == "unit_price"]
    assert [(p["value"], p["current"], p["flagged"]) for p in hist] == [
        (1.0, False, False), (0.9, True, True),
    ]  # fmt: skip
    assert "changed item 1 unit_price from 1 to 0.9" in json.dumps(offer["review_reasons"])


def test_form_reply_ignores_what_the_model_read_into_unasked_fields(
    db: Database, settings: Settings
) -> None:
    _, sent = _mail(db, settings, [BOXES])
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    form = (
        "1. Corrugated box 40x30x20 cm\n   Unit price: 0.85 EUR\n"
        "   Quantity or minimum order: 500\n"
    )
    # The model read the form's "1." as an MOQ, the price as a total and a lead time of 500.
    noise = {**BOXES, "moq": 1, "total_price": 0.85, "lead_time_days": 500}
    _mail(db, settings, [noise], in_reply_to=mid, text=form)
    offer = _offer(db)
    item = offer["items"][0]
    assert offer["state"] == "complete", offer["history"]
    assert (item["moq"], item["total_price"], item["lead_time_days"]) == (None, None, 10)
    merged = next(e for e in queries.get_mail(db, 2)["events"] if e["outcome"] == "reply_merged")
    assert "not asked" in merged["detail"] and "kept 10" in merged["detail"]
