"""Reviewers' corrections, approvals and rejections, the incremental-sync lists and the exports,
on a real DuckDB file with offers created by the production writers (the dialogue)."""

from __future__ import annotations

import datetime as dt
import email
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from appliance.errors import Conflict, InvalidRequest
from appliance.messages import ExtractionOutcome, MailMeta, RecordMail, ThreadInfo
from appliance.settings import Settings, SupplierSettings
from appliance.store import corrections, export, queries, repo, suppliers, sync
from appliance.store.db import Database
from appliance.workflow import dialogue, reading

SUPPLIER = "anna@boxworks.example"
BOX = {"product_name": "Corrugated box 40x30x20 cm", "unit_price": 0.85, "currency": "EUR",
       "quantity": 500, "lead_time_days": 10}  # fmt: skip
TAPE = {"product_name": "Packing tape 50 mm", "unit_price": 2.1, "currency": "EUR",
        "quantity": 100, "lead_time_days": 5}  # fmt: skip
FOAM = {"product_name": "Foam sheet", "unit_price": 0.4, "currency": "EUR", "quantity": 1000,
        "lead_time_days": 7}  # fmt: skip


@pytest.fixture
def settings() -> Settings:
    return Settings(
        suppliers=[SupplierSettings(name="BoxWorks", domains=["boxworks.example"])],
        outbox={"from_addr": "purchasing@buyer.example"},
    )


@pytest.fixture
def db(tmp_path: Path, settings: Settings) -> Database:
    d = Database.open(tmp_path / "c.duckdb")
    suppliers.sync_registry(d, settings.suppliers)
    return d


class Mails:
    """Supplier mails run through the dialogue as in production (the model's part by hand)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings, self.n = db, settings, 0

    def send(
        self,
        items: list[dict[str, Any]],
        *,
        subject: str = "Offer: boxes",
        in_reply_to: str | None = None,
        text: str = "",
        sender: str = SUPPLIER,
    ) -> tuple[int, list[Any]]:
        self.n += 1
        mid = f"<m{self.n}@boxworks.example>"
        rec = repo.record_mail(
            self.db, RecordMail(key=f"a/INBOX/1/{self.n}", account="a", folder="INBOX",
                                uidvalidity=1, uid=str(self.n), sha256=f"{self.n:064d}", size=10,
                                meta=MailMeta(message_id=mid, from_addr=sender)),
        )  # fmt: skip
        out = ExtractionOutcome(
            mail_id=rec.mail_id, sha256=f"{self.n:064d}", model="m", language="en",
            offer={"items": items, "language": "en", "supplier": {"email": sender}},
            thread=ThreadInfo(message_id=mid, in_reply_to=in_reply_to,
                              references=[in_reply_to] if in_reply_to else [], subject=subject,
                              from_addr=sender, from_name="Anna Berg"),
            answers=reading.form_answers(text),
        )  # fmt: skip
        _, deliveries = dialogue.save_extraction(self.db, self.settings, out)
        return rec.mail_id, deliveries

    def offer(self, *items: dict[str, Any], subject: str = "Offer: boxes") -> int:
        mail_id, _ = self.send(list(items), subject=subject)
        return int(self.db.scalar("SELECT id FROM offers WHERE mail_id = ?", [mail_id]))


@pytest.fixture
def mails(db: Database, settings: Settings) -> Mails:
    return Mails(db, settings)


def _updated_at(db: Database, offer_id: int) -> dt.datetime:
    value: dt.datetime = db.scalar("SELECT updated_at FROM offers WHERE id = ?", [offer_id])
    return value


def test_corrected_price_keeps_history_and_records_who_what_and_which_mail(
    db: Database, mails: Mails, settings: Settings
) -> None:
    offer_id = mails.offer(BOX)
    before = _updated_at(db, offer_id)
    rows = corrections.correct(
        db, offer_id, user="rita", items={0: {"unit_price": "0.79", "currency": "€"}},
        comment="price list of May", dialogue=settings.dialogue,
    )  # fmt: skip
    # "€" is EUR already (normalised by the contract): only the price changed.
    assert [(r["field"], r["before"], r["after"]) for r in rows] == [("unit_price", 0.85, 0.79)]
    row = rows[0]
    assert row["action"] == "set" and row["user"] == "rita" and row["item_position"] == 0
    assert row["mail_id"] == 1 and row["comment"] == "price list of May"
    offer = queries.get_offer(db, offer_id)
    assert offer["items"][0]["unit_price"] == 0.79
    history = [p for p in offer["provenance"] if p["field"] == "unit_price"]
    assert [(p["value"], p["current"], p["source"]) for p in history] == [
        (0.85, False, "llm"),
        (0.79, True, "user:rita"),
    ]
    assert history[1]["mail_id"] == 1
    assert _updated_at(db, offer_id) > before
    listed = corrections.list_corrections(db, offer_id=offer_id)
    assert listed["total"] == 1 and listed["items"][0]["before"] == 0.85
    # The same value again is no change: no row, no history, no new updated_at.
    stamp = _updated_at(db, offer_id)
    assert corrections.correct(db, offer_id, user="rita", items={0: {"unit_price": 0.79}}) == []
    assert corrections.list_corrections(db, offer_id=offer_id)["total"] == 1
    assert _updated_at(db, offer_id) == stamp


def test_correction_of_a_value_from_the_reply_names_the_reply(
    db: Database, mails: Mails, settings: Settings
) -> None:
    _, sent = mails.send([{"product_name": BOX["product_name"], "lead_time_days": 10}])
    mid = email.message_from_bytes(sent[0].raw)["Message-ID"]
    reply = "1. Corrugated box 40x30x20 cm\n   Unit price: 0.85 EUR\n   Quantity: 500\n"
    reply_id, _ = mails.send([], in_reply_to=mid, text=reply, subject="Re: offer")
    assert queries.get_offer(db, 1)["state"] == "complete"
    rows = corrections.correct(
        db, 1, user="rita", items={0: {"unit_price": 0.8}}, fields={"incoterms": "DAP Berlin"}
    )
    by_field = {r["field"]: r for r in rows}
    assert by_field["unit_price"]["mail_id"] == reply_id == 2
    assert by_field["incoterms"]["mail_id"] == 1  # no value before: the offer's first mail
    assert by_field["incoterms"]["before"] is None
    assert queries.get_offer(db, 1)["incoterms"] == "DAP Berlin"


def test_refused_corrections_write_nothing(db: Database, mails: Mails) -> None:
    offer_id = mails.offer(BOX)
    with pytest.raises(InvalidRequest, match="unknown field"):
        corrections.correct(db, offer_id, user="rita", items={0: {"colour": "red"}})
    with pytest.raises(InvalidRequest, match="unknown field"):
        corrections.correct(db, offer_id, user="rita", fields={"discount": 5})
    with pytest.raises(InvalidRequest, match="currency"):
        corrections.correct(db, offer_id, user="rita", items={0: {"currency": "XYZ"}})
    with pytest.raises(InvalidRequest, match="valid_until"):
        corrections.correct(db, offer_id, user="rita", fields={"valid_until": "next week"})
    with pytest.raises(InvalidRequest, match="no item at position 3"):
        corrections.correct(db, offer_id, user="rita", items={3: {"sku": "X"}})
    # A valid change next to a refused one is not applied either (one transaction).
    with pytest.raises(InvalidRequest):
        corrections.correct(db, offer_id, user="rita", fields={"incoterms": "FOB"},
                            items={0: {"quantity": -1}})  # fmt: skip
    offer = queries.get_offer(db, offer_id)
    assert offer["incoterms"] is None and offer["items"][0]["quantity"] == 500
    assert db.scalar("SELECT count(*) FROM corrections") == 0
    corrections.reject(db, offer_id, user="rita", reason="duplicate")
    with pytest.raises(Conflict, match="closed"):
        corrections.correct(db, offer_id, user="rita", items={0: {"sku": "B-1"}})


def test_remove_and_add_items_keep_positions_and_history(db: Database, mails: Mails) -> None:
    offer_id = mails.offer(BOX, TAPE, FOAM)
    rows = corrections.correct(
        db, offer_id, user="rita", remove_items=[1], items={2: {"sku": "F-7"}},
        add_items=[{"product_name": "Pallet wrap", "unit_price": 12, "currency": "usd"}],
    )  # fmt: skip
    assert [(r["action"], r["field"], r["item_position"]) for r in rows] == [
        ("set", "sku", 2),  # positions as before the request
        ("remove_item", "item", 1),
        ("add_item", "item", 2),
    ]
    assert rows[1]["before"]["product_name"] == TAPE["product_name"] and rows[1]["after"] is None
    assert rows[2]["after"]["currency"] == "USD"
    offer = queries.get_offer(db, offer_id)
    names = [i["product_name"] for i in offer["items"]]
    assert names == [BOX["product_name"], FOAM["product_name"], "Pallet wrap"]
    assert offer["items"][1]["sku"] == "F-7"
    positions = [r[0] for r in db.con.execute(
        "SELECT position FROM offer_items WHERE offer_id = ? ORDER BY position", [offer_id]
    ).fetchall()]  # fmt: skip
    assert positions == [0, 1, 2]
    # Current provenance follows the items to their new positions.
    current = {(p["item"], p["field"]): p["value"] for p in offer["provenance"] if p["current"]}
    assert current[(1, "product_name")] == FOAM["product_name"]
    assert current[(1, "sku")] == "F-7" and current[(2, "unit_price")] == 12
    assert TAPE["product_name"] not in [p["value"] for p in offer["provenance"]]
    # The removed item's values stay in the history, out of the positions.
    kept = db.query(
        "SELECT value, is_current FROM field_values WHERE offer_id = ? AND removed_at IS NOT NULL"
        " AND field = 'product_name'",
        [offer_id],
    )
    assert kept == [{"value": json.dumps(TAPE["product_name"]), "is_current": False}]
    with pytest.raises(InvalidRequest, match="at least one item"):
        corrections.correct(db, offer_id, user="rita", remove_items=[0, 1, 2])


def test_approve_and_reject_move_the_state_machine(db: Database, mails: Mails) -> None:
    # Without a lead time the supplier is asked: awaiting_supplier.
    waiting = mails.offer({k: v for k, v in BOX.items() if k != "lead_time_days"})
    assert queries.get_offer(db, waiting)["state"] == "awaiting_supplier"
    row = corrections.approve(db, waiting, user="rita", comment="lead time agreed by phone")
    assert (row["action"], row["before"], row["after"]) == ("approve", "awaiting_supplier",
                                                              "complete")  # fmt: skip
    offer = queries.get_offer(db, waiting)
    assert offer["state"] == "complete" and offer["reviewed_by"] == "rita"
    assert offer["reviewed_at"] and offer["next_action_at"] is None
    assert offer["history"][-1]["actor"] == "user:rita"
    assert offer["history"][-1]["reason"] == "approved by rita"
    # Approved again after a correction (complete → complete).
    corrections.correct(db, waiting, user="omar", items={0: {"lead_time_days": 12}})
    corrections.approve(db, waiting, user="omar")
    assert queries.get_offer(db, waiting)["reviewed_by"] == "omar"

    other = mails.offer(TAPE)
    with pytest.raises(InvalidRequest, match="reason"):
        corrections.reject(db, other, user="rita", reason="  ")
    row = corrections.reject(db, other, user="rita", reason="not our tape")
    assert row["action"] == "reject" and row["after"] == "closed"
    offer = queries.get_offer(db, other)
    assert offer["state"] == "closed"
    assert offer["history"][-1]["reason"] == "rejected by rita: not our tape"
    with pytest.raises(Conflict):
        corrections.reject(db, other, user="rita", reason="again")
    with pytest.raises(Conflict, match="cannot be approved"):
        corrections.approve(db, other, user="rita")
    actions = [r["action"] for r in corrections.list_corrections(db, limit=10)["items"]]
    assert actions == ["reject", "approve", "set", "approve"]  # newest first
    assert corrections.list_corrections(db, user="omar")["total"] == 2


def _sync_all(fetch: Any, *, limit: int, between: Any = None) -> list[int]:
    """Page through with the cursor, calling ``between`` after each page; the ids seen."""
    seen: list[int] = []
    since, after = dt.datetime(1970, 1, 1), None
    for _ in range(100):
        page = fetch(since, after, limit)
        if not page["items"]:
            return seen
        seen += [r["id"] for r in page["items"]]
        since = dt.datetime.fromisoformat(page["next_updated_since"].removesuffix("Z"))
        after = page["next_after_id"]
        if between:
            between()
    raise AssertionError("the sync did not end")


def test_updated_since_pages_see_every_row_once_while_rows_are_added(
    db: Database, mails: Mails
) -> None:
    for _ in range(5):
        mails.offer(BOX, TAPE)
    added: list[int] = []

    def add() -> None:
        if len(added) < 3:
            added.append(mails.offer(FOAM))

    def offers(since: dt.datetime, after: int | None, limit: int) -> dict[str, Any]:
        return queries.list_offers(db, updated_since=since, after_id=after, limit=limit)

    seen = _sync_all(offers, limit=2, between=add)
    assert sorted(seen) == list(range(1, 9)) and len(seen) == len(set(seen))

    def items(since: dt.datetime, after: int | None, limit: int) -> dict[str, Any]:
        return queries.list_items(db, sync.Filters(updated_since=since, after_id=after),
                                  limit=limit)  # fmt: skip

    # Items of one offer share its updated_at: the item id breaks the tie across pages.
    item_ids = _sync_all(items, limit=3)
    assert sorted(item_ids) == [r["id"] for r in db.query("SELECT id FROM offer_items")]
    assert len(item_ids) == len(set(item_ids)) == 13

    # Offset paging with a fixed updated_since, rows added between the pages.
    since = dt.datetime(1970, 1, 1)
    ids, offset = [], 0
    while page := queries.list_offers(db, updated_since=since, limit=3, offset=offset)["items"]:
        ids += [o["id"] for o in page]
        offset += len(page)
        if len(ids) < 6:
            mails.offer(FOAM)
    total = db.scalar("SELECT count(*) FROM offers")
    assert sorted(ids) == list(range(1, total + 1))


def test_a_row_changed_during_the_sync_comes_again_and_none_is_skipped(
    db: Database, mails: Mails
) -> None:
    ids = [mails.offer(BOX) for _ in range(4)]
    corrected: list[int] = []

    def correct_first() -> None:
        if not corrected:
            corrections.correct(db, ids[0], user="rita", items={0: {"sku": "B-1"}})
            corrected.append(ids[0])

    def offers(since: dt.datetime, after: int | None, limit: int) -> dict[str, Any]:
        return queries.list_offers(db, updated_since=since, after_id=after, limit=limit)

    seen = _sync_all(offers, limit=2, between=correct_first)
    assert seen == [ids[0], ids[1], ids[2], ids[3], ids[0]]
    page = queries.list_offers(db, updated_since=dt.datetime(1970, 1, 1), limit=50)
    assert [o["id"] for o in page["items"]] == [ids[1], ids[2], ids[3], ids[0]]
    assert page["next_after_id"] == ids[0]


def test_search_and_filters(db: Database, mails: Mails) -> None:
    boxes = mails.offer(BOX, subject="Offer: boxes")
    tape = mails.offer(TAPE, subject="Tape 100% cotton")
    assert [o["id"] for o in queries.list_offers(db, q="packing TAPE")["items"]] == [tape]
    assert [o["id"] for o in queries.list_offers(db, q="100%")["items"]] == [tape]
    assert queries.list_offers(db, q="1_0")["total"] == 0  # wildcards are literal
    assert [o["id"] for o in queries.list_offers(db, q="boxes")["items"]] == [boxes]
    assert queries.list_offers(db, q="boxworks")["total"] == 2
    corrections.approve(db, boxes, user="rita")
    assert [o["id"] for o in queries.list_offers(db, reviewed=True)["items"]] == [boxes]
    items = queries.list_items(db, sync.Filters(q="corrugated"))
    assert [(i["offer_id"], i["position"]) for i in items["items"]] == [(boxes, 0)]
    assert items["items"][0]["supplier"]["email"] == SUPPLIER
    with pytest.raises(InvalidRequest, match="unknown offer state"):
        queries.list_offers(db, state="nonsense")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exports_read_back(db: Database, mails: Mails, tmp_path: Path, fmt: str) -> None:
    boxes = mails.offer(BOX, TAPE)
    other = mails.offer(FOAM)
    corrections.correct(db, boxes, user="rita", items={1: {"unit_price": 2.0}})
    corrections.reject(db, other, user="rita", reason="too expensive")
    f = export.get_format(fmt)
    reader = "read_parquet" if fmt == "parquet" else "read_csv"

    def read(kind: str, filters: sync.Filters | None = None) -> list[tuple[Any, ...]]:
        path = export.to_temp_file(db, kind, f, filters, directory=tmp_path)
        try:
            with duckdb.connect() as con:
                return con.execute(f"SELECT * FROM {reader}(?)", [str(path)]).fetchall()
        finally:
            path.unlink()

    offers_rows = read("offers")
    assert [(r[0], r[1]) for r in offers_rows] == [(boxes, "complete"), (other, "closed")]
    items = read("items", sync.Filters(state="complete"))
    assert [(r[1], r[2], r[7], r[12]) for r in items] == [
        (boxes, 0, BOX["product_name"], 0.85),
        (boxes, 1, TAPE["product_name"], 2.0),
    ]
    rows = read("corrections")
    assert [(r[1], r[5], r[8]) for r in rows] == [(boxes, "set", "rita"), (other, "reject", "rita")]
    assert json.loads(rows[0][6]) == 2.1 and json.loads(rows[0][7]) == 2.0
    assert read("offers", sync.Filters(q="nothing like this")) == []
    assert list(tmp_path.glob("export-*")) == []
    with pytest.raises(InvalidRequest):
        export.get_format("xlsx")
