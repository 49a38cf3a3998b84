"""Webhooks end to end: the real ``appliance server`` (DuckDB, its scheduler, the webhook
threads) posting signed events over loopback HTTP to a receiver in this test.

The offers come through the real dialogue code: written to the DuckDB file before the server
starts (the server then dispatches them), and one moved by the server's own scheduler while it
runs (a supplier who never answers: reminder, then needs_review). No vLLM is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.integrations.webhooks import verify_signature
from appliance.store import corrections, suppliers
from appliance.store.db import Database
from tests.integration.services import Appliance, RedisServer, wait_for
from tests.webhooks_support import (
    FULL_ITEM,
    PARTIAL_ITEM,
    STRANGER,
    SUPPLIER,
    Hit,
    Receiver,
    dialogue_settings,
    new_offer,
)

pytestmark = pytest.mark.integration

SECRET = "integration-hook-secret"
REMINDER_H = 0.0005  # 1.8 s: the scheduler reminds, then sends the offer to review


@dataclass
class Setup:
    app: Appliance
    receiver: Receiver
    offers: dict[str, int]


def _answer(path: str, delivery: str, n: int) -> int:
    if path == "/flaky":
        return 500 if n <= 2 else 200
    if path == "/broken":
        return 503
    return 200


def _seed(db_file: Path) -> dict[str, int]:
    settings = dialogue_settings()
    settings.dialogue.reminder_after_h = REMINDER_H
    db = Database.open(db_file)
    try:
        suppliers.sync_registry(db, settings.suppliers)
        done = new_offer(db, settings, [FULL_ITEM], SUPPLIER)
        review = new_offer(db, settings, [PARTIAL_ITEM], STRANGER)
        silent = new_offer(db, settings, [PARTIAL_ITEM], SUPPLIER)  # asked; never answers
        corrections.correct(db, done, user="rita", comment="price typo",
                            items={0: {"unit_price": 0.9}})  # fmt: skip
        state = db.scalar("SELECT state FROM offers WHERE id = ?", [silent])
        assert state == "awaiting_supplier"
    finally:
        db.close()
    return {"done": done, "review": review, "silent": silent}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("webhooks")
    redis = RedisServer(work)
    receiver = Receiver(_answer)
    offers = _seed(work / "data" / "appliance.duckdb")
    fast = {"password_env": "HOOK_SECRET", "min_backoff_s": 0.2, "max_backoff_s": 0.5,
            "timeout_s": 5}  # fmt: skip
    hooks = [
        {"name": "erp", "url": receiver.url + "/ok", **fast},
        {"name": "flaky", "url": receiver.url + "/flaky", "events": ["offer.complete"], **fast},
        {"name": "broken", "url": receiver.url + "/broken", "events": ["offer.corrected"],
         "max_attempts": 3, **fast},
    ]  # fmt: skip
    app = Appliance(work, {
        "APPLIANCE_REDIS__URL": redis.url,
        "APPLIANCE_WEBHOOKS": json.dumps(hooks),
        "HOOK_SECRET": SECRET,
        "APPLIANCE_DIALOGUE__REMINDER_AFTER_H": str(REMINDER_H),
    })  # fmt: skip
    app.start("server")
    try:
        yield Setup(app, receiver, offers)
    finally:
        app.stop_all()
        receiver.close()
        redis.stop()
        print(f"--- server log (tail) ---\n{app.log('server')[-4000:]}")


def _events(hits: list[Hit]) -> dict[str, Hit]:
    return {h.headers["X-Appliance-Delivery"]: h for h in hits}


def _deliveries(app: Appliance, **params: Any) -> list[dict[str, Any]]:
    return list(app.get("/api/v1/webhooks/deliveries", limit=500, **params)["items"])


def test_events_arrive_signed_and_in_order(setup: Setup) -> None:
    offers, rec = setup.offers, setup.receiver

    def got_all() -> bool:
        kinds = [(json.loads(h.body)["event"], json.loads(h.body)["offer"]["id"])
                 for h in rec.on("/ok")]  # fmt: skip
        return {("offer.complete", offers["done"]), ("offer.needs_review", offers["review"]),
                ("offer.corrected", offers["done"]),
                ("offer.needs_review", offers["silent"])} <= set(kinds)  # fmt: skip

    wait_for("four events at the erp receiver", got_all, 90)
    hits = rec.on("/ok")
    for h in hits:
        hd = h.headers
        assert hd["Content-Type"] == "application/json"
        assert verify_signature(SECRET, hd["X-Appliance-Timestamp"], h.body,
                                hd["X-Appliance-Signature"])  # fmt: skip
        assert not verify_signature("wrong", hd["X-Appliance-Timestamp"], h.body,
                                    hd["X-Appliance-Signature"])  # fmt: skip
        payload = json.loads(h.body)
        assert hd["X-Appliance-Event"] == payload["event"]
        assert hd["X-Appliance-Delivery"] == payload["id"]
    by_id = _events(hits)
    assert len(by_id) == len(hits)  # each event once
    corrected = next(json.loads(h.body) for h in hits
                     if json.loads(h.body)["event"] == "offer.corrected")  # fmt: skip
    assert corrected["user"] == "rita"
    changes = [
        (c["field"], c["before"], c["after"], c["comment"]) for c in corrected["corrections"]
    ]
    assert changes == [("unit_price", 0.85, 0.9, "price typo")]
    # The scheduler's live move (after a reminder) came last, with its reason.
    last = json.loads(hits[-1].body)
    assert last["event"] == "offer.needs_review" and last["offer"]["id"] == offers["silent"]
    assert last["transition"]["actor"] == "scheduler"
    assert last["offer"]["state"] == "needs_review"
    # Delivery order is event order.
    stamps = [json.loads(h.body)["occurred_at"] for h in hits]
    assert stamps == sorted(stamps)
    erp = _deliveries(setup.app, hook="erp")
    assert {d["state"] for d in erp} == {"delivered"}
    assert all(len(d["attempt_log"]) == 1 and d["attempt_log"][0]["status"] == 200 for d in erp)


def test_a_failing_receiver_is_retried_until_it_answers(setup: Setup) -> None:
    app = setup.app

    def delivered() -> list[dict[str, Any]] | None:
        ds = _deliveries(app, hook="flaky")
        return ds if ds and all(d["state"] == "delivered" for d in ds) else None

    ds = wait_for("the flaky hook's deliveries", delivered, 90)
    assert {d["event"] for d in ds} == {"offer.complete"}
    for d in ds:
        assert [a["status"] for a in d["attempt_log"]] == [500, 500, 200]
        assert d["attempt_log"][0]["error"] == "HTTP 500: receiver says no"
        assert d["attempts"] == 3 and d["delivered_at"]
    # The receiver saw the same signed body three times under one delivery id.
    for d in ds:
        same = [h for h in setup.receiver.on("/flaky")
                if h.headers["X-Appliance-Delivery"] == d["event_id"]]  # fmt: skip
        assert len(same) == 3 and len({h.body for h in same}) == 1


def test_a_receiver_that_always_fails_ends_failed_and_can_be_retried(setup: Setup) -> None:
    app = setup.app

    def failed() -> dict[str, Any] | None:
        ds = _deliveries(app, hook="broken")
        return ds[0] if ds and ds[0]["state"] == "failed" else None

    d = wait_for("the broken hook's delivery to fail", failed, 90)
    assert d["event"] == "offer.corrected" and d["offer_id"] == setup.offers["done"]
    assert [a["status"] for a in d["attempt_log"]] == [503, 503, 503]
    assert d["last_status"] == 503 and d["last_error"] == "HTTP 503: receiver says no"
    assert _deliveries(app, hook="broken", state="failed")[0]["id"] == d["id"]

    hooks = {h["name"]: h for h in app.get("/api/v1/webhooks")["items"]}
    assert hooks["broken"]["deliveries"]["failed"] == 1
    assert hooks["erp"]["deliveries"]["delivered"] >= 4 and hooks["erp"]["configured"]

    # An operator retries: a fresh round of three attempts, logged after the first three.
    assert app.post(f"/api/v1/webhooks/deliveries/{d['id']}/retry")["state"] == "pending"

    def failed_again() -> dict[str, Any] | None:
        again = app.get("/api/v1/webhooks/deliveries", hook="broken")["items"][0]
        return again if again["state"] == "failed" and len(again["attempt_log"]) == 6 else None

    again = wait_for("the retried delivery to fail again", failed_again, 90)
    assert [a["attempt"] for a in again["attempt_log"]] == [1, 2, 3, 4, 5, 6]
    r = app.request("POST", "/api/v1/webhooks/deliveries/999999/retry")
    assert r.status_code == 404
    # Without credentials: refused.
    assert httpx.get(f"{app.url}/api/v1/webhooks/deliveries", timeout=10).status_code == 401
    assert httpx.post(f"{app.url}/api/v1/webhooks/deliveries/{d['id']}/retry",
                      timeout=10).status_code == 401  # fmt: skip

    metrics = app.request("GET", "/metrics").text
    assert 'appliance_webhook_deliveries_total{hook="broken",outcome="failed"} 2.0' in metrics
    assert 'appliance_webhook_deliveries_total{hook="flaky",outcome="retrying"}' in metrics
    # The gauge is refreshed every second by the dispatcher.
    wait_for("the pending gauge at 0", lambda: 'appliance_webhook_pending{hook="broken"} 0.0'
             in app.request("GET", "/metrics").text, 30)  # fmt: skip
