"""The DB owner's writes: migrations from empty, idempotent recording and storing."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import NotFound
from appliance.messages import ErrorInfo, ExtractionOutcome, MailMeta, RecordMail
from appliance.settings import Settings
from appliance.store import queries, repo
from appliance.store.db import Database
from appliance.store.migrations import MIGRATIONS
from appliance.workflow import dialogue

SETTINGS = Settings()


def _save(db: Database, out: ExtractionOutcome) -> str:
    return dialogue.save_extraction(db, SETTINGS, out)[0]


def _msg(key: str = "acc/INBOX/7/1", sha: str = "a" * 64) -> RecordMail:
    acc, folder, validity, uid = key.split("/")
    return RecordMail(
        key=key, account=acc, folder=folder, uidvalidity=int(validity), uid=uid, sha256=sha,
        size=123, meta=MailMeta(message_id="<m1@x>", subject="Offer", from_addr="s@x.example"),
    )  # fmt: skip


OFFER = {
    "supplier": {"name": "ACME", "email": "s@x.example"},
    "items": [
        {"product_name": "Nails", "unit_price": 1.5, "currency": "EUR", "quantity": 100,
         "dimensions": {"length": 90, "width": None, "height": None, "unit": "mm"}},
    ],
    "language": "en",
}  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "t.duckdb")


def test_migrations_from_empty_are_recorded_and_not_reapplied(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "m.duckdb")
    versions = [r["version"] for r in db.query("SELECT version FROM schema_migrations")]
    assert versions == [v for v, _, _ in MIGRATIONS]
    db.close()
    db2 = Database.open(tmp_path / "m.duckdb")
    assert db2.migrate() == []
    assert db2.scalar("SELECT count(*) FROM mails") == 0


def test_record_mail_is_idempotent_per_key_and_per_content(db: Database) -> None:
    first = repo.record_mail(db, _msg())
    assert first.new_mail and first.new_key and first.needs_extraction
    again = repo.record_mail(db, _msg())
    assert (again.mail_id, again.new_mail, again.new_key) == (first.mail_id, False, False)
    # Same content under a new UIDVALIDITY: a new sighting, not a new mail.
    moved = repo.record_mail(db, _msg("acc/INBOX/8/1"))
    assert moved.mail_id == first.mail_id and moved.new_key and not moved.new_mail
    assert db.scalar("SELECT count(*) FROM mails") == 1
    assert db.scalar("SELECT count(*) FROM mail_keys") == 2


def test_save_extraction_stores_once_and_ignores_duplicates(db: Database) -> None:
    mail_id = repo.record_mail(db, _msg()).mail_id
    out = ExtractionOutcome(mail_id=mail_id, sha256="a" * 64, offer=OFFER, model="m")
    assert _save(db, out) == repo.EXTRACTED
    assert _save(db, out) == "duplicate_ignored"
    assert db.scalar("SELECT count(*) FROM offers") == 1
    assert db.scalar("SELECT count(*) FROM offer_items") == 1
    page = queries.list_offers(db)
    assert page["total"] == 1
    offer = page["items"][0]
    assert offer["source_mail_ids"] == [mail_id]
    assert offer["items"][0]["dimensions"] == {
        "length": 90, "width": None, "height": None, "unit": "mm"
    }  # fmt: skip
    assert offer["items"][0]["weight"] is None
    assert queries.get_mail(db, mail_id)["offer_id"] == offer["id"]


def test_errors_are_visible_and_only_final_ones_fail_the_mail(db: Database) -> None:
    mail_id = repo.record_mail(db, _msg()).mail_id
    err = ErrorInfo(code="llm_unavailable", message="down", transient=True)
    out = ExtractionOutcome(mail_id=mail_id, sha256="a" * 64, error=err, final=False)
    assert _save(db, out) == "retry"
    mail = queries.get_mail(db, mail_id)
    assert mail["state"] == repo.RECEIVED and mail["error"]["code"] == "llm_unavailable"
    assert mail["attempts"] == 1
    out.final = True
    assert _save(db, out) == "failed"
    assert queries.list_mails(db, state="failed")["total"] == 1
    repo.retry_mail(db, mail_id)
    ok = ExtractionOutcome(mail_id=mail_id, sha256="a" * 64, offer=OFFER)
    assert _save(db, ok) == repo.EXTRACTED
    assert queries.get_mail(db, mail_id)["error"] is None
    events = queries.get_mail(db, mail_id)["events"]
    outcomes = [e["outcome"] for e in events if e["stage"] != "dialogue"]
    assert outcomes == ["recorded", "retry", "failed", "retry_requested", "extracted"]


def test_mail_without_items_is_no_offer(db: Database) -> None:
    mail_id = repo.record_mail(db, _msg()).mail_id
    out = ExtractionOutcome(mail_id=mail_id, sha256="a" * 64, offer={"items": [], "language": "en"})
    assert _save(db, out) == repo.NO_OFFER
    assert db.scalar("SELECT count(*) FROM offers") == 0


def test_unknown_ids_raise_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        queries.get_offer(db, 99)
    with pytest.raises(NotFound):
        _save(db, ExtractionOutcome(mail_id=5, sha256="x", offer=OFFER))


def test_stuck_mails_are_claimed_once_per_period(db: Database) -> None:
    mail_id = repo.record_mail(db, _msg()).mail_id
    assert repo.claim_stuck_mails(db, 3600) == []
    assert repo.claim_stuck_mails(db, -1) == [(mail_id, "a" * 64)]
    assert repo.claim_stuck_mails(db, 3600) == []
