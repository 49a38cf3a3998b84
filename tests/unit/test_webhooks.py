"""Webhooks on a real DuckDB file and a real loopback HTTP receiver: signatures, fan-out from
the change logs, the attempt state machine and the backoff schedule."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.errors import ConfigError, Conflict
from appliance.integrations import webhooks as wh
from appliance.settings import Settings, WebhookSettings
from appliance.store import corrections, suppliers
from appliance.store.db import Database, utcnow
from tests.webhooks_support import (
    FULL_ITEM,
    PARTIAL_ITEM,
    STRANGER,
    SUPPLIER,
    Receiver,
    dialogue_settings,
    new_offer,
)

SECRET = "s3cret-hook"


def _hook(name: str = "erp", url: str = "http://127.0.0.1:9/", **kw: object) -> WebhookSettings:
    return WebhookSettings.model_validate(
        {"name": name, "url": url, "password_env": "HOOK_SECRET", "min_backoff_s": 5.0,
         "max_backoff_s": 60.0, "max_attempts": 3, **kw}
    )  # fmt: skip


@pytest.fixture
def settings() -> Settings:
    return dialogue_settings()


@pytest.fixture
def db(tmp_path: Path, settings: Settings) -> Iterator[Database]:
    d = Database.open(tmp_path / "w.duckdb")
    suppliers.sync_registry(d, settings.suppliers)
    yield d
    d.close()


def _deliveries(db: Database) -> list[tuple[str, str, str]]:
    return [
        (r["hook"], r["event_id"], r["event"])
        for r in db.query("SELECT hook, event_id, event FROM webhook_deliveries ORDER BY id")
    ]


# --- signatures ---------------------------------------------------------------------------------


def test_signature_verifies_and_refuses_tampering_and_old_timestamps() -> None:
    body = b'{"id":"tr-1","event":"offer.complete"}'
    ts = 1_700_000_000
    header = wh.sign(SECRET, ts, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert wh.verify_signature(SECRET, str(ts), body, header, now=ts + 10)
    assert wh.verify_signature(SECRET, ts, body, header, now=ts + 299)
    # Tampered body, wrong secret, timestamp swapped (signed data includes it), old, future.
    assert not wh.verify_signature(SECRET, ts, body.replace(b"complete", b"closed"), header,
                                   now=ts)  # fmt: skip
    assert not wh.verify_signature("other", ts, body, header, now=ts)
    assert not wh.verify_signature(SECRET, ts + 1, body, header, now=ts)
    assert not wh.verify_signature(SECRET, ts, body, header, now=ts + 301)
    assert not wh.verify_signature(SECRET, ts, body, header, now=ts - 301)
    assert wh.verify_signature(SECRET, ts, body, header, tolerance_s=3600, now=ts + 3000)
    # Missing or malformed parts.
    assert not wh.verify_signature(SECRET, ts, body, None, now=ts)
    assert not wh.verify_signature(SECRET, None, body, header, now=ts)
    assert not wh.verify_signature(SECRET, "yesterday", body, header, now=ts)
    assert not wh.verify_signature(SECRET, ts, body, header.removeprefix("sha256="), now=ts)


def test_headers_carry_event_delivery_timestamp_and_a_valid_signature() -> None:
    body = b'{"x":1}'
    h = wh.headers_for("offer.needs_review", "tr-7", SECRET, body, 1_700_000_000)
    assert h["Content-Type"] == "application/json"
    assert h["X-Appliance-Event"] == "offer.needs_review"
    assert h["X-Appliance-Delivery"] == "tr-7"
    assert h["X-Appliance-Timestamp"] == "1700000000"
    assert wh.verify_signature(SECRET, h["X-Appliance-Timestamp"], body,
                               h["X-Appliance-Signature"], now=1_700_000_005)  # fmt: skip


# --- backoff ------------------------------------------------------------------------------------


def test_backoff_doubles_with_bounded_jitter_and_is_capped() -> None:
    low = [wh.backoff_s(n, 5.0, 60.0, rand=lambda: 0.0) for n in range(1, 7)]
    assert low == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    high = [wh.backoff_s(n, 5.0, 60.0, rand=lambda: 0.999999) for n in range(1, 7)]
    for lo, hi in zip(low, high, strict=True):
        assert lo <= hi <= min(60.0, lo * (1 + wh.JITTER))
    assert high[0] > 5.9 and high[-1] == 60.0
    assert wh.backoff_s(1, 0.0, 0.0) == 0.0


def test_check_hooks_refuses_bad_configs_and_secrets_are_read_per_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wh.check_hooks([_hook("a"), _hook("b")])
    with pytest.raises(ConfigError, match="twice"):
        wh.check_hooks([_hook("a"), _hook("a")])
    with pytest.raises(ConfigError, match="unknown event"):
        wh.check_hooks([_hook(events=["offer.deleted"])])
    with pytest.raises(ConfigError, match="http"):
        wh.check_hooks([_hook(url="ftp://x/")])
    with pytest.raises(ConfigError, match="backoff"):
        wh.check_hooks([_hook(min_backoff_s=10.0, max_backoff_s=1.0)])
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert wh.secret_of(_hook()) == SECRET
    monkeypatch.setenv("HOOK_SECRET", "")
    with pytest.raises(ConfigError, match="empty"):
        wh.secret_of(_hook())
    monkeypatch.delenv("HOOK_SECRET")
    with pytest.raises(ConfigError, match="password"):
        wh.secret_of(_hook())


# --- dispatch -----------------------------------------------------------------------------------


def test_dispatch_fans_out_each_event_once_per_subscribed_hook(
    db: Database, settings: Settings
) -> None:
    hooks = [_hook("erp"), _hook("crm", events=["offer.corrected"])]
    done = new_offer(db, settings, [FULL_ITEM], SUPPLIER)
    review = new_offer(db, settings, [PARTIAL_ITEM], STRANGER)
    corrections.correct(db, done, user="rita", comment="typo",
                        items={0: {"unit_price": 0.9, "currency": "USD"}})  # fmt: skip
    corrections.approve(db, review, user="rita")  # a transition, not a correction event

    assert wh.dispatch(db, hooks) == {"erp": 4, "crm": 1}
    tr = {
        r["to_state"]: r["id"]
        for r in db.query("SELECT id, to_state FROM offer_transitions WHERE offer_id = ?", [review])
    }
    first = db.scalar("SELECT min(id) FROM corrections WHERE action = 'set'")
    dbid = db.scalar("SELECT value FROM meta WHERE key = 'database_id'")
    assert len(dbid) == 12  # event ids are unique across databases (a rebuilt one too)
    rows = _deliveries(db)
    assert ("erp", f"tr-{dbid}-{tr['needs_review']}", "offer.needs_review") in rows
    assert ("erp", f"tr-{dbid}-{tr['complete']}", "offer.complete") in rows
    assert [r for r in rows if r[0] == "crm"] == [("crm", f"co-{dbid}-{first}", "offer.corrected")]
    # Event order = delivery order for one hook.
    erp = [r[1] for r in rows if r[0] == "erp"]
    assert erp.index(f"co-{dbid}-{first}") < erp.index(f"tr-{dbid}-{tr['complete']}")

    # A re-run adds nothing; even a cursor moved back cannot duplicate a delivery.
    assert wh.dispatch(db, hooks) == {}
    db.con.execute("UPDATE webhook_cursor SET last_id = 0")
    assert wh.dispatch(db, hooks) == {}
    assert _deliveries(db) == rows

    payload = json.loads(db.scalar("SELECT payload FROM webhook_deliveries WHERE hook = 'crm'"))
    assert payload["id"] == f"co-{dbid}-{first}" and payload["event"] == "offer.corrected"
    assert payload["offer"]["id"] == done and payload["user"] == "rita"
    assert payload["occurred_at"].endswith("Z")
    changes = {(c["field"], c["before"], c["after"]) for c in payload["corrections"]}
    assert ("unit_price", 0.85, 0.9) in changes and ("currency", "EUR", "USD") in changes
    assert all(c["comment"] == "typo" for c in payload["corrections"])
    review_id = f"tr-{dbid}-{tr['needs_review']}"
    review_payload = json.loads(
        db.scalar("SELECT payload FROM webhook_deliveries WHERE event_id = ?", [review_id])
    )
    assert review_payload["transition"]["to_state"] == "needs_review"
    assert review_payload["offer"]["supplier"]["email"] == STRANGER


def test_a_hook_configured_later_gets_no_history(db: Database, settings: Settings) -> None:
    new_offer(db, settings, [FULL_ITEM], SUPPLIER)
    assert wh.dispatch(db, []) == {}  # no hooks yet: the cursor still moves
    assert wh.dispatch(db, [_hook()]) == {}
    later = new_offer(db, settings, [FULL_ITEM], SUPPLIER)
    assert wh.dispatch(db, [_hook()]) == {"erp": 1}
    assert json.loads(db.scalar("SELECT payload FROM webhook_deliveries"))["offer"]["id"] == later


# --- attempts -----------------------------------------------------------------------------------


def _one_delivery(db: Database, settings: Settings, hook: WebhookSettings) -> int:
    new_offer(db, settings, [FULL_ITEM], SUPPLIER)
    wh.dispatch(db, [hook])
    return int(db.scalar("SELECT max(id) FROM webhook_deliveries"))


def test_attempts_retry_with_backoff_then_fail_and_an_operator_retries(
    db: Database, settings: Settings
) -> None:
    hook = _hook(max_attempts=3)
    did = _one_delivery(db, settings, hook)
    now = utcnow()
    err = wh.AttemptResult(500, "HTTP 500: boom", 12.0)
    assert wh.record_attempt(db, hook, did, err, now=now, rand=lambda: 0.0) == wh.RETRYING
    row = db.query("SELECT * FROM webhook_deliveries WHERE id = ?", [did])[0]
    assert row["attempts"] == 1 and row["last_status"] == 500
    assert row["next_attempt_at"] == now + dt.timedelta(seconds=5)
    # Not due before the backoff; due after it.
    assert wh.next_due(db, hook.name, now) == pytest.approx(5.0)
    due = wh.next_due(db, hook.name, now + dt.timedelta(seconds=5))
    assert isinstance(due, wh.Delivery) and due.id == did
    later = now + dt.timedelta(seconds=5)
    assert wh.record_attempt(db, hook, did, err, now=later, rand=lambda: 0.0) == wh.RETRYING
    assert db.scalar("SELECT next_attempt_at FROM webhook_deliveries WHERE id = ?",
                     [did]) == later + dt.timedelta(seconds=10)  # fmt: skip
    timeout = wh.AttemptResult(None, "ReadTimeout: timed out", 10000.0)
    assert wh.record_attempt(db, hook, did, timeout) == wh.FAILED
    assert wh.next_due(db, hook.name) is None

    d = wh.get_delivery(db, did)
    assert d["state"] == "failed" and d["last_error"] == "ReadTimeout: timed out"
    assert [(a["attempt"], a["status"]) for a in d["attempt_log"]] == [
        (1, 500), (2, 500), (3, None)
    ]  # fmt: skip

    again = wh.retry_delivery(db, did)
    assert again["state"] == "pending" and again["attempts"] == 0
    assert wh.record_attempt(db, hook, did, wh.AttemptResult(204, None, 3.0)) == wh.DELIVERED
    d = wh.get_delivery(db, did)
    assert d["delivered_at"] and [a["attempt"] for a in d["attempt_log"]] == [1, 2, 3, 4]
    with pytest.raises(Conflict):
        wh.retry_delivery(db, did)


def test_gone_fails_at_once(db: Database, settings: Settings) -> None:
    hook = _hook(max_attempts=8)
    did = _one_delivery(db, settings, hook)
    assert wh.record_attempt(db, hook, did, wh.AttemptResult(410, "HTTP 410", 1.0)) == wh.FAILED


def test_one_hook_sends_in_event_order_without_holding_up_another(
    db: Database, settings: Settings
) -> None:
    erp, crm = _hook("erp"), _hook("crm")
    new_offer(db, settings, [FULL_ITEM], SUPPLIER)
    new_offer(db, settings, [FULL_ITEM], SUPPLIER)
    assert wh.dispatch(db, [erp, crm]) == {"erp": 2, "crm": 2}
    first, second = (int(r["id"]) for r in db.query(
        "SELECT id FROM webhook_deliveries WHERE hook = 'erp' ORDER BY id"))  # fmt: skip
    now = utcnow()
    wh.record_attempt(db, erp, first, wh.AttemptResult(503, "HTTP 503", 1.0), now=now)
    # erp's second delivery is due but waits behind its first (retrying, not yet due) ...
    assert isinstance(wh.next_due(db, "erp", now), float)
    # ... while crm goes on with its own first delivery.
    due = wh.next_due(db, "crm", now)
    assert isinstance(due, wh.Delivery) and due.hook == "crm" and due.id not in (first, second)
    after = wh.next_due(db, "erp", now + dt.timedelta(seconds=60))
    assert isinstance(after, wh.Delivery) and after.id == first


def test_send_next_posts_the_signed_payload_to_a_real_receiver(
    db: Database, settings: Settings
) -> None:
    rec = Receiver(lambda path, delivery, n: 500 if n == 1 else 200)
    try:
        hook = _hook(url=rec.url + "/hook", min_backoff_s=0.0, max_backoff_s=0.0)
        did = _one_delivery(db, settings, hook)
        with httpx.Client(timeout=5) as client:
            assert wh.send_next(db, hook, SECRET, client) == 0.0
            assert wh.send_next(db, hook, SECRET, client) == 0.0
            assert wh.send_next(db, hook, SECRET, client) is None
        hits = rec.on("/hook")
        assert len(hits) == 2
        for hit in hits:
            hd = hit.headers
            assert wh.verify_signature(SECRET, hd["X-Appliance-Timestamp"], hit.body,
                                       hd["X-Appliance-Signature"])  # fmt: skip
            assert hd["X-Appliance-Event"] == "offer.complete"
            assert hd["X-Appliance-Delivery"] == json.loads(hit.body)["id"]
        assert hits[0].body == hits[1].body  # the same bytes on every attempt
        d = wh.get_delivery(db, did)
        assert d["state"] == "delivered"
        assert [a["status"] for a in d["attempt_log"]] == [500, 200]
        assert d["attempt_log"][0]["error"] == "HTTP 500: receiver says no"
    finally:
        rec.close()


def test_listings_count_by_state_and_filter(db: Database, settings: Settings) -> None:
    hook = _hook(url="https://user:pw@erp.example/hook")
    did = _one_delivery(db, settings, hook)
    _one_delivery(db, settings, hook)
    wh.record_attempt(db, hook, did, wh.AttemptResult(200, None, 1.0))
    db.con.execute("INSERT INTO webhook_deliveries (event_id, hook, event, payload, state,"
                   " created_at, updated_at) VALUES ('tr-999', 'old', 'offer.complete', '{}',"
                   " 'failed', now()::TIMESTAMP, now()::TIMESTAMP)")  # fmt: skip
    hooks = wh.list_hooks(db, [hook])["items"]
    assert hooks[0]["ready"] is False and "password" in hooks[0]["error"]  # HOOK_SECRET unset
    assert hooks[0]["url"] == "https://user:***@erp.example/hook"
    assert hooks[0]["deliveries"] == {"pending": 1, "retrying": 0, "delivered": 1, "failed": 0}
    gone = {"pending": 0, "retrying": 0, "delivered": 0, "failed": 1}
    assert hooks[1] == {"name": "old", "configured": False, "deliveries": gone}
    page = wh.list_deliveries(db, hook="erp", state="delivered")
    assert page["total"] == 1 and page["items"][0]["id"] == did
    assert page["items"][0]["payload"]["event"] == "offer.complete"
    assert wh.list_deliveries(db, limit=1)["total"] == 3
    assert wh.waiting_counts(db) == {"erp": 1}


def test_service_without_a_secret_keeps_the_deliveries_waiting(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    svc = wh.WebhookService(db, [_hook()])
    assert svc.senders == {}
    new_offer(db, settings, [FULL_ITEM], SUPPLIER)
    svc.tick()
    assert wh.waiting_counts(db) == {"erp": 1}
    with pytest.raises(ConfigError, match="twice"):
        wh.WebhookService(db, [_hook(), _hook()])
