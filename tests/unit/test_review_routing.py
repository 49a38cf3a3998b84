"""Review routing by confidence and evidence, on a real DuckDB file: the dialogue's decision
(``dialogue._advance``) sends an offer to review for values the model read with low confidence
and for values it gave that the mail does not contain (``[review]`` settings).

Extraction outcomes are built by hand (the model's part is covered by
``tests/integration/test_confidence.py``); everything after the model runs as in production.
"""

from __future__ import annotations

import datetime as dt
import email
from pathlib import Path
from typing import Any

import pytest

from appliance.messages import ExtractionOutcome, MailMeta, RecordMail, ThreadInfo
from appliance.settings import Settings, SupplierSettings
from appliance.store import offers, queries, repo, suppliers
from appliance.store.db import Database
from appliance.workflow import dialogue, reading

SUPPLIER = "anna@boxworks.example"
FULL = {"product_name": "Corrugated box 40x30x20 cm", "unit_price": 0.85, "currency": "EUR",
        "quantity": 500, "lead_time_days": 10}  # fmt: skip
SURE = {f"items[0].{k}": 0.97 for k in FULL}


@pytest.fixture
def settings() -> Settings:
    # The threshold is pinned: these tests are about routing, not about the calibrated default.
    return Settings(
        suppliers=[SupplierSettings(name="BoxWorks", domains=["boxworks.example"])],
        outbox={"from_addr": "purchasing@buyer.example"},
        review={"min_confidence": 0.5},
    )


@pytest.fixture
def db(tmp_path: Path, settings: Settings) -> Database:
    d = Database.open(tmp_path / "d.duckdb")
    suppliers.sync_registry(d, settings.suppliers)
    return d


class _Mails:
    """Feeds hand-built extraction outcomes through ``dialogue.save_extraction``."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings, self.n = db, settings, 0

    def send(
        self,
        items: list[dict[str, Any]],
        *,
        confidence: dict[str, float] | None = None,
        unfound: dict[str, Any] | None = None,
        in_reply_to: str | None = None,
        text: str = "",
    ) -> list[Any]:
        self.n += 1
        n = self.n
        mid = f"<m{n}@boxworks.example>"
        rec = repo.record_mail(
            self.db, RecordMail(key=f"a/INBOX/1/{n}", account="a", folder="INBOX", uidvalidity=1,
                                uid=str(n), sha256=f"{n:064d}", size=10,
                                meta=MailMeta(message_id=mid, from_addr=SUPPLIER)),
        )  # fmt: skip
        out = ExtractionOutcome(
            mail_id=rec.mail_id, sha256=f"{n:064d}", model="m", language="en",
            offer={"items": items, "language": "en", "supplier": {"email": SUPPLIER}},
            thread=ThreadInfo(message_id=mid, in_reply_to=in_reply_to,
                              references=[in_reply_to] if in_reply_to else [],
                              subject="Offer: boxes", from_addr=SUPPLIER, from_name="Anna"),
            answers=reading.form_answers(text), confidence=confidence or {},
            unfound=unfound or {},
        )  # fmt: skip
        return dialogue.save_extraction(self.db, self.settings, out)[1]


@pytest.fixture
def mails(db: Database, settings: Settings) -> _Mails:
    return _Mails(db, settings)


def test_confident_values_complete_the_offer_and_are_served(db: Database, mails: _Mails) -> None:
    sent = mails.send([FULL], confidence=SURE)
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "complete" and len(sent) == 1 and offer["review_reasons"] == []
    price = next(p for p in offer["provenance"] if p["field"] == "unit_price")
    assert price["confidence"] == pytest.approx(0.97)
    assert offer["confidence"]["items[0].unit_price"] == pytest.approx(0.97)


def test_a_low_confidence_value_sends_the_offer_to_review(db: Database, mails: _Mails) -> None:
    sent = mails.send([FULL], confidence={**SURE, "items[0].unit_price": 0.314})
    offer = queries.get_offer(db, 1)
    reason = "low confidence: items[0].unit_price = 0.85 (0.31 < 0.50)"
    assert offer["state"] == "needs_review" and not sent
    assert offer["review_reasons"] == [reason]
    assert offer["history"][-1]["to_state"] == "needs_review"
    assert offer["history"][-1]["reason"] == reason


def test_the_threshold_comes_from_the_settings(
    db: Database, settings: Settings, mails: _Mails
) -> None:
    settings.review.min_confidence = 0.2
    mails.send([FULL], confidence={**SURE, "items[0].unit_price": 0.314})
    assert queries.get_offer(db, 1)["state"] == "complete"


def test_a_compound_value_counts_at_its_weakest_part(db: Database, mails: _Mails) -> None:
    desk = {**FULL, "product_name": "Office desk",
            "dimensions": {"length": 120, "width": 60, "height": None, "unit": "cm"}}  # fmt: skip
    conf = {**SURE, "items[0].dimensions.length": 0.9, "items[0].dimensions.width": 0.2,
            "items[0].dimensions.unit": 0.95}  # fmt: skip
    mails.send([desk], confidence=conf)
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "needs_review"
    assert offer["review_reasons"] == [
        'low confidence: items[0].dimensions = {"length": 120.0, "width": 60.0, "height": null,'
        ' "unit": "cm"} (0.20 < 0.50)'
    ]


def test_values_not_in_the_mail_send_the_offer_to_review(
    db: Database, settings: Settings, mails: _Mails
) -> None:
    assert settings.review.unfound_values == "review"  # the default
    unfound = {"items[0].moq": 50, "removed_items[0].product_name": "Steel shelf"}
    mails.send([FULL], confidence=SURE, unfound=unfound)
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "needs_review"
    assert offer["review_reasons"] == [
        "not in the mail: items[0].moq = 50",
        'not in the mail: removed_items[0].product_name = "Steel shelf"',
    ]
    settings.review.unfound_values = "drop"
    mails.send([FULL], confidence=SURE, unfound=unfound)
    assert queries.get_offer(db, 2)["state"] == "complete"


def test_record_doubts_win_over_missing_fields(db: Database, mails: _Mails) -> None:
    partial = {**{k: v for k, v in FULL.items() if k != "currency"}, "total_price": 999}
    sent = mails.send([partial], confidence=SURE)
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "needs_review" and not sent  # a conflict: no question
    assert offer["missing"]["items"] == {"0": ["currency"]}  # the reviewer sees both
    assert len(offer["review_reasons"]) == 1 and "total" in offer["review_reasons"][0]


def test_reading_doubts_ask_the_supplier_first_then_review(db: Database, mails: _Mails) -> None:
    partial = {k: v for k, v in FULL.items() if k not in ("unit_price", "currency")}
    unfound = {"items[0].unit_price": 1250.5, "items[0].brand": "Greta"}
    sent = mails.send([partial], confidence={**SURE, "items[0].quantity": 0.1}, unfound=unfound)
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "awaiting_supplier" and len(sent) == 1  # asked despite the doubts
    assert offer["review_reasons"] == [
        "low confidence: items[0].quantity = 500 (0.10 < 0.50)",
        "not in the mail: items[0].unit_price = 1250.5",
        'not in the mail: items[0].brand = "Greta"',
    ]
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    mails.send([], in_reply_to=mid, text="1. Corrugated box 40x30x20 cm\n   Unit price: 0.85 EUR\n")
    offer = queries.get_offer(db, 1)
    # The answer filled the price (that doubt is gone); the others remain: review, not complete.
    assert offer["state"] == "needs_review", offer["history"]
    assert offer["review_reasons"] == [
        "low confidence: items[0].quantity = 500 (0.10 < 0.50)",
        'not in the mail: items[0].brand = "Greta"',
    ]


def test_an_answer_that_settles_every_doubt_completes_the_offer(
    db: Database, mails: _Mails
) -> None:
    partial = {k: v for k, v in FULL.items() if k not in ("unit_price", "currency")}
    sent = mails.send([partial], confidence=SURE, unfound={"items[0].unit_price": 1250.5})
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    mails.send([], in_reply_to=mid, text="1. Corrugated box 40x30x20 cm\n   Unit price: 0.85 EUR\n")
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "complete" and offer["review_reasons"] == []


def test_form_answers_have_no_confidence_and_complete_the_offer(
    db: Database, mails: _Mails
) -> None:
    partial = {k: v for k, v in FULL.items() if k not in ("unit_price", "currency")}
    sent = mails.send([partial], confidence=SURE)
    assert queries.get_offer(db, 1)["state"] == "awaiting_supplier"
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    form = "1. Corrugated box 40x30x20 cm\n   Unit price: 0.85 EUR\n"
    mails.send([], in_reply_to=mid, text=form)
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "complete", offer["history"]
    price = next(p for p in offer["provenance"] if p["field"] == "unit_price")
    assert price["source"] == "form" and price["confidence"] is None


def test_a_low_confidence_value_read_from_a_free_text_reply_is_doubted(
    db: Database, mails: _Mails
) -> None:
    partial = {k: v for k, v in FULL.items() if k != "unit_price"}
    sent = mails.send([partial], confidence=SURE)
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    mails.send([FULL], in_reply_to=mid, confidence={**SURE, "items[0].unit_price": 0.4})
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "needs_review"
    assert offer["review_reasons"] == ["low confidence: items[0].unit_price = 0.85 (0.40 < 0.50)"]


def test_values_a_reviewer_approved_are_not_doubted_again(db: Database, mails: _Mails) -> None:
    partial = {k: v for k, v in FULL.items() if k != "lead_time_days"}
    mails.send([partial], confidence={**SURE, "items[0].unit_price": 0.3})
    assert queries.get_offer(db, 1)["state"] == "awaiting_supplier"  # asked for the lead time
    # The reply gives it; the doubtful price remains: review instead of complete.
    mails.send([FULL], confidence=SURE, in_reply_to="<m1@boxworks.example>")
    assert queries.get_offer(db, 1)["state"] == "needs_review"
    with db.transaction() as con:  # a person approves the offer as it stands
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        con.execute("UPDATE offers SET reviewed_at = ?, reviewed_by = 'rita' WHERE id = 1", [now])
        offers.transition(con, 1, "incomplete", actor="rita", reason="approved", now=now)
        con.execute("UPDATE offers SET rounds = 0 WHERE id = 1")
    # Another reply (answering the first mail) comes in: the approved price is not doubted.
    mails.send([FULL], confidence=SURE, in_reply_to="<m1@boxworks.example>")
    offer = queries.get_offer(db, 1)
    assert offer["state"] == "complete", offer["history"]
