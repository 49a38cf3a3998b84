"""The supplier catalogue through the real dialogue on a DuckDB file: observations and
history across mails, change events and their webhook deliveries, anomalies as review reasons,
split and merge that stick, corrections, backfill, the comparison."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from appliance.catalogue.compare import Rate
from appliance.errors import Conflict
from appliance.integrations import webhooks
from appliance.settings import Settings, WebhookSettings
from appliance.store import (
    catalogue_compare,
    catalogue_rates,
    catalogue_read,
    catalogue_review,
    corrections,
    suppliers,
)
from appliance.store.db import Database
from appliance.workflow import catalogue
from tests.catalogue_support import catalogue_settings, offer_mail

BOX = "anna@boxworks.example"
KOR = "ivan@korobka.example"
GLOVES = {"product_name": "Nitrile gloves M", "sku": "NG-100", "unit": "box of 100",
          "unit_price": 12.0, "currency": "EUR", "moq": 10, "lead_time_days": 5}  # fmt: skip
TAPE = {"product_name": "Packing tape 50 mm", "unit": "roll", "unit_price": 2.0,
        "currency": "EUR"}  # fmt: skip
FILM = {"product_name": "Stretch film 23 my", "unit": "roll", "unit_price": 9.0, "currency": "EUR"}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Database, Settings]:
    settings = catalogue_settings()
    db = Database.open(tmp_path / "c.duckdb")
    suppliers.sync_registry(db, settings.suppliers)
    return db, settings


def _entries(db: Database) -> dict[str, Any]:
    return {e["name"]: e for e in catalogue_read.list_entries(db)["items"]}


def test_two_mails_a_month_apart_one_catalogue_history_and_a_change(
    setup: tuple[Database, Settings],
) -> None:
    db, s = setup
    offer_mail(db, s, BOX, [GLOVES, TAPE], day=0)
    second = offer_mail(db, s, BOX, [{**GLOVES, "unit_price": 13.5}, TAPE, FILM], day=30)
    entries = _entries(db)
    assert sorted(entries) == sorted(
        [FILM["product_name"], GLOVES["product_name"], TAPE["product_name"]]
    )
    gloves = catalogue_read.get_entry(db, int(entries["Nitrile gloves M"]["id"]))
    assert [h["unit_price"] for h in gloves["history"]] == [13.5, 12.0]
    assert gloves["current"]["unit_price"] == 13.5
    assert gloves["current"]["observed_at"].startswith("2026-10-31")
    assert gloves["history"][0]["match_reason"] == "same SKU NG100"
    assert [c["kinds"] for c in gloves["changes"]] == [["price"]]
    assert gloves["changes"][0]["offer_id"] == second
    tape = catalogue_read.get_entry(db, int(entries[TAPE["product_name"]]["id"]))
    assert len(tape["history"]) == 2 and tape["changes"] == []  # same price: no event
    # The change is a webhook event for the hooks that list it (not in the default events).
    hooks = [WebhookSettings(name="erp", url="http://127.0.0.1:9/x", events=["catalogue.changed"]),
             WebhookSettings(name="plain", url="http://127.0.0.1:9/y")]  # fmt: skip
    assert webhooks.dispatch(db, hooks)["erp"] == 1
    events = db.query("SELECT hook, event FROM webhook_deliveries ORDER BY id")
    assert [e["hook"] for e in events if e["event"] == "catalogue.changed"] == ["erp"]
    payload = json.loads(db.scalar("SELECT payload FROM webhook_deliveries WHERE hook = 'erp'"))
    assert payload["event"] == "catalogue.changed" and payload["offer"]["id"] == second
    assert payload["change"]["detail"]["price"] == {"before": 12.0, "after": 13.5, "share": 0.125}
    assert webhooks.dispatch(db, hooks) == {}  # the cursor moved: no second delivery
    # A correction of that offer reports what is new (lead time), not the price again.
    follow = lambda con, oid, now: catalogue.corrected(con, s, oid, now)  # noqa: E731
    corrections.correct(db, second, user="rita", items={0: {"lead_time_days": 7}},
                        on_change=follow)  # fmt: skip
    again = catalogue_read.get_entry(db, gloves["id"])
    assert [c["kinds"] for c in again["changes"]] == [["lead_time"], ["price"]]
    assert [h["unit_price"] for h in again["history"] if h["is_current"]] == [13.5, 12.0]


def test_an_expired_newer_price_does_not_hide_a_valid_one(setup: tuple[Database, Settings]) -> None:
    db, s = setup
    offer_mail(db, s, BOX, [GLOVES], day=0, valid_until="2099-01-01")
    offer_mail(db, s, BOX, [{**GLOVES, "unit_price": 11.0}], day=30, valid_until="2026-10-31")
    cur = _entries(db)["Nitrile gloves M"]["current"]
    assert cur["unit_price"] == 12.0 and cur["valid_until"] == "2099-01-01"


def test_anomalies_are_review_reasons_and_values_stay(setup: tuple[Database, Settings]) -> None:
    db, s = setup
    offer_mail(db, s, BOX, [GLOVES], day=0)
    odd = offer_mail(db, s, BOX, [{**GLOVES, "unit_price": 120.0}, {**TAPE, "currency": "USD"}],
                     day=30)  # fmt: skip
    row = db.query("SELECT state, review_reasons FROM offers WHERE id = ?", [odd])[0]
    reasons = json.loads(row["review_reasons"])
    assert row["state"] == "needs_review"
    assert any("10× the last one (12 EUR)" in r for r in reasons), reasons
    assert any("USD, a currency this supplier never used" in r for r in reasons), reasons
    assert db.scalar("SELECT unit_price FROM offer_items WHERE offer_id = ? AND position = 0",
                     [odd]) == 120.0  # fmt: skip


def test_a_split_of_a_wrong_match_survives_the_next_mail(setup: tuple[Database, Settings]) -> None:
    db, s = setup
    s.catalogue.name_similarity = 0.8  # loose enough to take size L for size M
    offer_mail(db, s, BOX, [{**TAPE, "product_name": "Nitrile gloves size M"}], day=0)
    offer_mail(db, s, BOX, [{**TAPE, "product_name": "Nitrile gloves size L"}], day=10)
    (entry,) = catalogue_read.list_entries(db)["items"]
    hist = catalogue_read.get_entry(db, entry["id"])["history"]
    wrong = next(h for h in hist if h["product_name"].endswith("L"))
    assert "close to" in wrong["match_reason"]
    out = catalogue_review.split(db, wrong["id"], user="rita")
    offer_mail(db, s, BOX, [{**TAPE, "product_name": "Nitrile gloves size L", "unit_price": 2.5}],
               day=20)  # fmt: skip
    offer_mail(db, s, BOX, [{**TAPE, "product_name": "nitrile gloves, size M"}], day=21)
    new = catalogue_read.get_entry(db, out["entry_id"])
    assert [h["unit_price"] for h in new["history"]] == [2.5, 2.0]
    assert "split" in new["history"][0]["match_reason"]
    assert {h["product_name"] for h in new["history"]} == {"Nitrile gloves size L"}
    old = catalogue_read.get_entry(db, entry["id"])
    assert {h["product_name"] for h in old["history"]} == {
        "Nitrile gloves size M", "nitrile gloves, size M"}  # fmt: skip
    with pytest.raises(Conflict, match="nothing to split"):
        catalogue_review.split(db, new["history"][0]["id"], user="rita")


def test_a_merge_sticks_and_corrections_flow_in(setup: tuple[Database, Settings]) -> None:
    db, s = setup
    first = offer_mail(db, s, BOX, [{**TAPE, "product_name": "Brown tape"}], day=0)
    offer_mail(db, s, BOX, [{**TAPE, "product_name": "Tape, brown, 66 m"}], day=5)
    e = _entries(db)
    catalogue_review.merge(db, int(e["Tape, brown, 66 m"]["id"]), int(e["Brown tape"]["id"]),
                           user="rita")  # fmt: skip
    offer_mail(db, s, BOX, [{**TAPE, "product_name": "Tape, brown, 66 m", "unit_price": 2.2}],
               day=40)  # fmt: skip
    (only,) = catalogue_read.list_entries(db)["items"]
    assert only["name"] == "Brown tape" and only["observations"] == 3
    # A reviewer's correction replaces the observation (kept as history) and its date stays.
    follow = lambda con, oid, now: catalogue.corrected(con, s, oid, now)  # noqa: E731
    corrections.correct(db, first, user="rita", items={0: {"unit_price": 1.9}}, on_change=follow)
    hist = catalogue_read.get_entry(db, only["id"])["history"]
    assert [(h["unit_price"], h["is_current"]) for h in hist] == [
        (2.2, True), (2.0, True), (1.9, True), (2.0, False)]  # fmt: skip
    before = db.scalar("SELECT count(*) FROM catalogue_observations")
    assert catalogue.backfill(db, s)["offers"] == 3
    assert db.scalar("SELECT count(*) FROM catalogue_observations") == before  # idempotent


def test_two_suppliers_one_sku_one_group_normalised(setup: tuple[Database, Settings]) -> None:
    db, s = setup
    offer_mail(db, s, BOX, [GLOVES], day=0)
    ru = {"product_name": "Перчатки нитриловые M", "sku": "ng 100", "unit": "шт",
          "unit_price": 15.0, "currency": "RUB"}  # fmt: skip
    offer_mail(db, s, KOR, [ru], day=1)
    rate = Rate("RUB", 0.01, dt.date(2026, 11, 1), "file rates.csv")
    catalogue_rates.set_rates(db, [rate], "EUR")
    (group,) = catalogue_compare.list_groups(db, min_suppliers=2)["items"]
    assert group["suppliers"] == 2 and group["sku"] == "NG100"
    rows = catalogue_compare.compare_group(db, group["id"], "EUR")["rows"]
    by = {r["supplier"]: r for r in rows}
    assert by["BoxWorks"]["normalised_price"] == pytest.approx(0.12)
    assert by["Korobka"]["normalised_price"] == pytest.approx(0.15)
    assert by["Korobka"]["rate"]["as_of"] == "2026-11-01"
    assert by["Korobka"]["group_reason"] == "same SKU NG100"
    assert [r["supplier"] for r in rows] == ["BoxWorks", "Korobka"]  # cheapest first
