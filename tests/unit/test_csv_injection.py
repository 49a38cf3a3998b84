"""CSV formula injection: every CSV export (offers, items, corrections, catalogue, catalogue
history) writes a text cell that would start a spreadsheet formula with a leading ``'``, through
the real API and DuckDB's ``COPY``; numbers, negative ones too, stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar.testing import TestClient

from appliance.api import AppContext, create_app
from appliance.auth import tokens
from appliance.settings import Settings
from appliance.store import corrections, export, suppliers
from appliance.store.db import Database
from tests.catalogue_support import catalogue_settings, offer_mail

FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_get_a_quote(value: str) -> None:
    assert export.neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-5", "+3.5", "-0,25", "Box -5", "a=b", "", "'=x", "5-2"])
def test_plain_text_and_plain_numbers_unchanged(value: str) -> None:
    assert export.neutralise_cell(value) == value


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Database, Settings, str]]:
    settings = catalogue_settings()
    db = Database.open(tmp_path / "csv.duckdb")
    suppliers.sync_registry(db, settings.suppliers)
    token = tokens.create_token(db, "exporter", ["read", "review", "export"], created_by="t")[1]
    yield db, settings, token
    db.close()


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_csv_export_is_neutralised(env: tuple[Database, Settings, str]) -> None:
    db, s, token = env
    offer = offer_mail(db, s, "anna@boxworks.example", [
        {"product_name": FORMULAS[0], "sku": "-2+3+cmd|' /C calc'!A0", "brand": "@SUM(A1)",
         "unit": "=1+1", "unit_price": 12.0, "currency": "EUR", "quantity": 100},
        {"product_name": "Plain gloves", "sku": "-5", "unit_price": 3.5, "currency": "EUR"},
    ], valid_until="2026-12-31")  # fmt: skip
    corrections.correct(db, offer, user="rita", items={1: {"unit_price": 4.5}},
                        comment="=cmd|' /C calc'!A0")  # fmt: skip
    app = create_app(AppContext(settings=s, db=db, redis=redis.Redis()))
    with TestClient(app=app) as c:
        c.headers["Authorization"] = f"Bearer {token}"

        def get(kind: str) -> list[dict[str, str]]:
            r = c.get(f"/api/v1/export/{kind}", params={"format": "csv"})
            assert r.status_code == 200, r.text
            return _rows(r.text)

        items = get("items")
        assert items[0]["product_name"] == "'" + FORMULAS[0]
        assert items[0]["sku"] == "'-2+3+cmd|' /C calc'!A0"
        assert items[0]["brand"] == "'@SUM(A1)" and items[0]["unit"] == "'=1+1"
        assert items[0]["unit_price"] == "12.0" and items[1]["sku"] == "-5"  # plain numbers
        assert items[1]["unit_price"] == "4.5"
        offers = get("offers")
        assert [o["id"] for o in offers] == [str(offer)]
        (cor,) = get("corrections")
        assert cor["comment"] == "'=cmd|' /C calc'!A0"
        assert cor["after"] == "4.5"  # JSON text of a number: a plain number
        cat = {r["sku"]: r for r in get("catalogue")}
        assert cat["'-2+3+cmd|' /C calc'!A0"]["name"] == "'" + FORMULAS[0]
        assert cat["'-2+3+cmd|' /C calc'!A0"]["brand"] == "'@SUM(A1)"
        assert "-5" in cat
        hist = {r["sku"]: r for r in get("catalogue-history")}
        assert hist["'-2+3+cmd|' /C calc'!A0"]["product_name"] == "'" + FORMULAS[0]
        assert hist["'-2+3+cmd|' /C calc'!A0"]["unit"] == "'=1+1"
        for rows in (items, offers, [cor], list(cat.values()), list(hist.values())):
            for row in rows:  # no cell left that a spreadsheet would evaluate
                assert all(export.neutralise_cell(v) == v for v in row.values()), row
        # Parquet is typed: the text is kept as it is.
        pq = c.get("/api/v1/export/items", params={"format": "parquet"})
        assert pq.status_code == 200 and pq.content[:4] == b"PAR1"


def test_parquet_keeps_the_text(env: tuple[Database, Settings, str], tmp_path: Path) -> None:
    import duckdb

    db, s, _ = env
    offer_mail(db, s, "anna@boxworks.example", [
        {"product_name": FORMULAS[0], "unit_price": 1.0, "currency": "EUR"}])  # fmt: skip
    path = export.to_temp_file(db, "items", export.get_format("parquet"), directory=tmp_path)
    with duckdb.connect() as con:
        rows: list[Any] = con.execute(
            "SELECT product_name FROM read_parquet(?)", [str(path)]
        ).fetchall()
    assert rows == [(FORMULAS[0],)]


def test_negative_numbers_stay_numbers(env: tuple[Database, Settings, str]) -> None:
    db = env[0]
    sql = "SELECT ? AS t, -2.5::DOUBLE AS d, -3 AS i, ? AS n, '{\"a\": 1}'::JSON AS j"
    with db.lock:
        safe = export.csv_safe_select(db, sql, ["-1+1", "-7"])
        row = db.con.execute(safe, ["-1+1", "-7"]).fetchone()
    assert row == ("'-1+1", -2.5, -3, "-7", '{"a": 1}')
