"""Corrections, approval, rejection, incremental sync, exports and the training export through
a real ``appliance server`` process (real Redis, DuckDB on disk, HTTP over loopback).

The offers are written into the DuckDB file before the server starts, by the production
writers (the dialogue) from real sample mails stored in the blob store; the model's reading is
given by hand, so the test needs no vLLM.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from appliance.mail.blobstore import BlobStore
from appliance.messages import ExtractionOutcome, MailMeta, RecordMail, ThreadInfo
from appliance.settings import Settings
from appliance.store import repo
from appliance.store.db import Database
from appliance.workflow import dialogue
from tests.integration.services import Appliance, RedisServer

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
NAILS = {"product_name": "Galvanized nails 3.1x90 mm", "brand": "NordFix", "sku": "NF-3190",
         "quantity": 500, "unit": "box", "unit_price": 12.4, "currency": "EUR", "moq": 100,
         "lead_time_days": 14}  # fmt: skip
SCREWS = {"product_name": "Wood screws 4x40", "quantity": 200, "unit_price": 3.0,
          "currency": "EUR", "lead_time_days": 14}  # fmt: skip
BOXES = {"product_name": "Double-wall cardboard boxes 60x40x40 cm", "brand": "PackRight",
         "moq": 2000}  # fmt: skip


def _store_offer(db: Database, blobs: BlobStore, sample: str, n: int, items: list[dict]) -> None:
    raw = (SAMPLES / sample).read_bytes()
    sha = blobs.put(raw)
    headers = raw.split(b"\n\n", 1)[0].decode()
    fields = dict(line.split(": ", 1) for line in headers.splitlines() if ": " in line)
    sender = fields["From"].split("<")[1].rstrip(">")
    rec = repo.record_mail(
        db, RecordMail(key=f"a/INBOX/1/{n}", account="a", folder="INBOX", uidvalidity=1,
                       uid=str(n), sha256=sha, size=len(raw),
                       meta=MailMeta(message_id=fields["Message-ID"], subject=fields["Subject"],
                                     from_addr=sender)),
    )  # fmt: skip
    out = ExtractionOutcome(
        mail_id=rec.mail_id, sha256=sha, model="m", language="en",
        offer={"items": items, "language": "en", "supplier": {"email": sender},
               "valid_until": "2026-12-31" if n == 1 else None},
        thread=ThreadInfo(message_id=fields["Message-ID"], subject=fields["Subject"],
                          from_addr=sender, from_name=fields["From"].split(" <")[0]),
    )  # fmt: skip
    dialogue.save_extraction(db, Settings(), out)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    work = tmp_path_factory.mktemp("review")
    data = work / "data"
    db = Database.open(data / "appliance.duckdb")
    blobs = BlobStore(data / "blobs")
    _store_offer(db, blobs, "01-en-nails.eml", 1, [NAILS, SCREWS])  # complete
    _store_offer(db, blobs, "05-en-boxes-no-price.eml", 2, [BOXES])  # asks for the price
    db.close()
    redis = RedisServer(work)
    appliance = Appliance(work, {"APPLIANCE_REDIS__URL": redis.url})
    appliance.start("server")
    try:
        yield appliance
    finally:
        appliance.stop_all()
        redis.stop()
        print(f"--- server log (tail) ---\n{appliance.log('server')[-3000:]}")


def _post(app: Appliance, path: str, body: dict[str, Any] | None = None) -> Any:
    r = app.request("POST", path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_correction_through_the_api_keeps_history(app: Appliance) -> None:
    before = app.get("/api/v1/offers/1")
    assert before["state"] == "complete" and len(before["items"]) == 2
    offer = _post(app, "/api/v1/offers/1/corrections", {
        "items": {"0": {"unit_price": "11.90", "currency": "eur"}},
        "fields": {"incoterms": "FCA Gothenburg"},
        "remove_items": [1],
        "comment": "price agreed by phone",
    })  # fmt: skip
    applied = {(r["action"], r["field"]): r for r in offer["applied"]}
    assert set(applied) == {("set", "unit_price"), ("set", "incoterms"), ("remove_item", "item")}
    price = applied[("set", "unit_price")]
    assert (price["before"], price["after"], price["mail_id"]) == (12.4, 11.9, 1)
    user = price["user"]
    assert user and all(r["user"] == user for r in offer["applied"])
    assert [i["product_name"] for i in offer["items"]] == [NAILS["product_name"]]
    assert offer["items"][0]["unit_price"] == 11.9 and offer["incoterms"] == "FCA Gothenburg"
    history = [p for p in offer["provenance"] if p["field"] == "unit_price"]
    assert [(p["value"], p["current"]) for p in history] == [(12.4, False), (11.9, True)]
    assert history[1]["source"] == f"user:{user}"
    assert offer["updated_at"] > before["updated_at"]

    unknown = app.request("POST", "/api/v1/offers/1/corrections",
                          json={"items": {"0": {"colour": "red"}}})  # fmt: skip
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_request"
    assert "colour" in unknown.json()["message"]
    bad = app.request("POST", "/api/v1/offers/1/corrections",
                      json={"items": {"0": {"currency": "ZZZ"}}})  # fmt: skip
    assert bad.status_code == 400
    assert app.request("POST", "/api/v1/offers/99/corrections", json={}).status_code == 404


def test_approve_and_reject(app: Appliance) -> None:
    waiting = app.get("/api/v1/offers/2")
    assert waiting["state"] == "awaiting_supplier"
    offer = _post(app, "/api/v1/offers/2/reject", {"reason": "we buy boxes elsewhere"})
    assert offer["state"] == "closed"
    assert offer["history"][-1]["reason"].endswith(": we buy boxes elsewhere")
    again = app.request("POST", "/api/v1/offers/2/reject", json={"reason": "again"})
    assert again.status_code == 409
    closed = app.request("POST", "/api/v1/offers/2/corrections",
                         json={"fields": {"incoterms": "EXW"}})  # fmt: skip
    assert closed.status_code == 409
    assert app.request("POST", "/api/v1/offers/2/approve").status_code == 409
    offer = _post(app, "/api/v1/offers/1/approve", {"comment": "checked"})
    assert offer["state"] == "complete" and offer["reviewed_by"] and offer["reviewed_at"]
    assert app.get("/api/v1/offers", reviewed="true")["total"] == 1


def test_incremental_sync_of_corrections_offers_and_items(app: Appliance) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"updated_since": "1970-01-01T00:00:00Z", "limit": 2}
    while (page := app.get("/api/v1/corrections", **params))["items"]:
        seen += [r["id"] for r in page["items"]]
        params.update(updated_since=page["next_updated_since"], after_id=page["next_after_id"])
    everything = app.get("/api/v1/corrections", limit=500)
    assert sorted(seen) == sorted(r["id"] for r in everything["items"])
    assert len(seen) == len(set(seen)) == everything["total"] == 5
    assert [r["action"] for r in app.get("/api/v1/corrections", offer_id=2)["items"]] == ["reject"]

    # Offers: the cursor of a full sync returns nothing new until something changes.
    full = app.get("/api/v1/offers", updated_since="1970-01-01T00:00:00Z")
    assert [o["id"] for o in full["items"]] == [2, 1]  # offer 1 changed last (approved)
    cursor = {"updated_since": full["next_updated_since"], "after_id": full["next_after_id"]}
    assert app.get("/api/v1/offers", **cursor)["items"] == []
    _post(app, "/api/v1/offers/1/corrections", {"items": {"0": {"sku": "NF-3190-B"}}})
    assert [o["id"] for o in app.get("/api/v1/offers", **cursor)["items"]] == [1]
    items = app.get("/api/v1/items", **cursor)
    assert [(i["offer_id"], i["sku"]) for i in items["items"]] == [(1, "NF-3190-B")]
    assert items["items"][0]["supplier"]["email"] == "greta.holm@nordicfasteners.example"
    assert app.get("/api/v1/items", q="cardboard")["items"][0]["offer_state"] == "closed"
    assert [o["id"] for o in app.get("/api/v1/offers", q="nordfix")["items"]] == [1]
    sup = app.get("/api/v1/suppliers", updated_since="1970-01-01T00:00:00Z")
    assert sup["total"] == 2 and sup["next_updated_since"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exports_download_and_read_back(app: Appliance, tmp_path: Path, fmt: str) -> None:
    for kind, expect in (("offers", 2), ("items", 2), ("corrections", 6)):
        r = app.request("GET", f"/api/v1/export/{kind}", params={"format": fmt})
        assert r.status_code == 200, r.text
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("attachment;") and f'.{fmt}"' in disposition
        assert r.headers["content-type"].startswith(
            "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
        )
        path = tmp_path / f"{kind}.{fmt}"
        path.write_bytes(r.content)
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        with duckdb.connect() as con:
            rows = con.execute(f"SELECT * FROM {reader}(?)", [str(path)]).fetchall()
            cols = [d[0] for d in con.description or []]
        assert len(rows) == expect, (kind, rows)
        if kind == "items":
            got = {(r[cols.index("offer_id")], r[cols.index("unit_price")]) for r in rows}
            assert got == {(1, 11.9), (2, None)}
    closed = app.request("GET", "/api/v1/export/offers", params={"format": fmt, "state": "closed"})
    assert closed.status_code == 200
    if fmt == "csv":
        lines = io.StringIO(closed.text).read().splitlines()
        assert len(lines) == 2 and lines[1].startswith("2,closed,")
    assert app.request("GET", "/api/v1/export/offers", params={"format": "xls"}).status_code == 400
    leftovers = list((app.workdir / "data" / "tmp").glob("export-*"))
    assert leftovers == []


def test_training_export_uses_the_reviewed_values(app: Appliance, tmp_path: Path) -> None:
    from finetune.dataset import read_set
    from finetune.export import export

    token = getattr(app, "token", None)
    n = export(app.url, tmp_path / "reviewed", token=token, reviewed_only=True)
    assert n == 1
    [(_, raw, label)] = read_set(tmp_path / "reviewed")
    assert b"Galvanized nails" in raw
    assert label["reviewed_by"] and label["reviewed_at"]
    # The reviewer's price is the gold (it names the first mail), the removed item is gone.
    assert [(i["product_name"], i["unit_price"], i["sku"]) for i in label["items"]] == [
        (NAILS["product_name"], 11.9, "NF-3190-B")
    ]
    assert label["incoterms"] == "FCA Gothenburg" and label["valid_until"] == "2026-12-31"
    record = json.loads((tmp_path / "reviewed" / "gold.jsonl").read_text().splitlines()[0])
    assert record["id"] == "offer-1-mail-1"
    assert dt.datetime.fromisoformat(record["reviewed_at"].removesuffix("Z"))
