"""Scrape-time metrics from a real DuckDB file, and the structured (JSON) log lines."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from appliance import logs, metrics_db
from appliance.messages import ErrorInfo, ExtractionOutcome, MailMeta, RecordMail
from appliance.metrics import stage_of
from appliance.settings import Settings
from appliance.store import repo
from appliance.store.db import Database, utcnow
from appliance.workflow import dialogue

SETTINGS = Settings()
OFFER = {
    "supplier": {"name": "ACME", "email": "s@x.example"},
    "items": [
        {"product_name": "Nails", "unit_price": 1.5, "currency": "EUR", "quantity": 100,
         "lead_time_days": 5},
        {"product_name": "Screws", "unit_price": None, "currency": "EUR", "quantity": 10,
         "dimensions": {"length": 9, "width": 1, "height": 1, "unit": "mm"}},
    ],
    "language": "en",
}  # fmt: skip


def _record(db: Database, account: str, uid: int) -> int:
    msg = RecordMail(
        key=f"{account}/INBOX/7/{uid}", account=account, folder="INBOX", uidvalidity=7,
        uid=str(uid), sha256=f"{uid:064x}", size=10,
        meta=MailMeta(message_id=f"<m{uid}@x>", subject="Offer", from_addr="s@x.example"),
    )  # fmt: skip
    return repo.record_mail(db, msg).mail_id


def _exec(db: Database, sql: str, params: list[object]) -> None:
    with db.transaction() as con:
        con.execute(sql, params)


def _samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "m.duckdb")


def test_db_families_count_mails_offers_failures_and_fields(db: Database) -> None:
    ok = _record(db, "sales", 1)
    dialogue.save_extraction(db, SETTINGS, ExtractionOutcome(mail_id=ok, sha256="1", offer=OFFER))
    bad = _record(db, "sales", 2)
    err = ErrorInfo(code="extraction_invalid", message="not JSON")
    dialogue.save_extraction(db, SETTINGS, ExtractionOutcome(mail_id=bad, sha256="2", error=err))
    _record(db, "other", 3)
    # A reviewer corrected one price of the offer.
    offer_id = db.scalar("SELECT id FROM offers")
    _exec(
        db,
        "INSERT INTO corrections (offer_id, field, action, user_name, created_at)"
        " VALUES (?, 'unit_price', 'set', 'rita', ?)",
        [offer_id, utcnow()],
    )

    body = metrics_db.generate(metrics_db.Sources(db=db, adapter=lambda: None))
    got = _samples(body)

    assert got[("appliance_mails", (("account", "sales"), ("state", "extracted")))] == 1
    assert got[("appliance_mails", (("account", "sales"), ("state", "failed")))] == 1
    assert got[("appliance_mails", (("account", "other"), ("state", "received")))] == 1
    assert got[("appliance_mails", (("account", "other"), ("state", "failed")))] == 0
    key = (("account", "sales"), ("code", "extraction_invalid"), ("stage", "validate"))
    assert got[("appliance_mails_failed", key)] == 1
    assert got[("appliance_offers", ())] == 1
    # Two items: the name is always there, the price and lead time on one, dimensions on one.
    assert got[("appliance_items", ())] == 2
    assert (
        got[("appliance_field_completeness", (("field", "product_name"), ("level", "item")))] == 1
    )
    assert (
        got[("appliance_field_completeness", (("field", "unit_price"), ("level", "item")))] == 0.5
    )
    assert (
        got[("appliance_field_completeness", (("field", "dimensions"), ("level", "item")))] == 0.5
    )
    assert got[("appliance_field_completeness", (("field", "weight"), ("level", "item")))] == 0
    assert got[("appliance_offers_reviewed", ())] == 1
    assert got[("appliance_corrections", (("field", "unit_price"),))] == 1
    assert got[("appliance_correction_rate", (("field", "unit_price"),))] == 1
    assert got[("appliance_correction_rate", (("field", "currency"),))] == 0
    assert got[("appliance_active_adapter", (("adapter", "base"),))] == 1
    assert got[("appliance_broker_up", ())] == 0  # no broker given
    assert not [k for k in got if k[0] == "appliance_scrape_errors"]


def test_review_queue_age_counts_from_entering_review(db: Database) -> None:
    mail = _record(db, "sales", 1)
    dialogue.save_extraction(db, SETTINGS, ExtractionOutcome(mail_id=mail, sha256="1", offer=OFFER))
    offer_id = db.scalar("SELECT id FROM offers")
    entered = utcnow() - dt.timedelta(hours=2)
    _exec(db, "DELETE FROM offer_transitions WHERE to_state = 'needs_review'", [])
    _exec(db, "UPDATE offers SET state = 'needs_review' WHERE id = ?", [offer_id])
    _exec(
        db,
        "INSERT INTO offer_transitions (offer_id, from_state, to_state, actor, reason,"
        " occurred_at) VALUES (?, 'incomplete', 'needs_review', 'test', 'test', ?)",
        [offer_id, entered],
    )
    got = _samples(metrics_db.generate(metrics_db.Sources(db=db)))
    assert got[("appliance_review_queue", ())] == 1
    assert 7190 < got[("appliance_review_queue_oldest_seconds", ())] < 7300


def test_a_failing_source_is_reported_and_the_rest_still_answers(db: Database) -> None:
    def broken() -> str:
        raise RuntimeError("registry unreadable")

    got = _samples(metrics_db.generate(metrics_db.Sources(db=db, adapter=broken)))
    assert got[("appliance_scrape_errors", (("source", "adapter"),))] == 1
    assert ("appliance_offers", ()) in got


def test_stage_of_error_codes() -> None:
    assert stage_of("mail_too_large") == "preprocess"
    assert stage_of("llm_timeout") == "llm"
    assert stage_of("extraction_truncated") == "validate"
    assert stage_of("internal") == "extract"


def _json_line(record_logger: logging.Logger, msg: str, **kw: object) -> dict[str, object]:
    handler = logging.Handler()
    lines: list[str] = []
    handler.emit = lambda r: lines.append(handler.format(r))  # type: ignore[method-assign]
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    record_logger.addHandler(handler)
    try:
        record_logger.warning(msg, **kw)  # type: ignore[arg-type]
    finally:
        record_logger.removeHandler(handler)
    return dict(json.loads(lines[0]))


def test_json_formatter_carries_the_ids_of_the_context_and_of_extra() -> None:
    lg = logging.getLogger("test.metrics.json")
    lg.propagate = False
    with logs.log_context(mail_id=12, actor="extract"):
        logs.bind(offer_id=5)
        line = _json_line(lg, "mail %s: extraction failed", extra={"account": "sales"})
    assert line["msg"] == "mail %s: extraction failed"
    assert line["mail_id"] == 12 and line["offer_id"] == 5 and line["account"] == "sales"
    assert line["actor"] == "extract" and line["level"] == "WARNING"
    assert str(line["ts"]).endswith("+00:00")
    # Outside the block the ids are gone; ``extra`` wins over the context.
    assert "mail_id" not in _json_line(lg, "idle")
    with logs.log_context(mail_id=1):
        assert _json_line(lg, "x", extra={"mail_id": 2})["mail_id"] == 2


def test_message_fields_name_the_ids_of_each_actor() -> None:
    assert logs.message_fields("extract", (7, "ab")) == {"actor": "extract", "mail_id": 7}
    assert logs.message_fields("save_extraction", ({"mail_id": 3},))["mail_id"] == 3
    assert logs.message_fields("record_mail", ({"account": "sales"},))["account"] == "sales"
    d = logs.message_fields("deliver", (4, "offer:9:clarification:1", "a@b", "<m>", ""))
    assert d == {"actor": "deliver", "outbox_id": 4, "idem_key": "offer:9:clarification:1",
                 "offer_id": 9}  # fmt: skip
    assert logs.offer_of_idem_key("mail:3:ack") is None
