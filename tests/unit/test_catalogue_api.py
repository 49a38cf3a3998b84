"""The catalogue's API and pages through the real Litestar app (in process, bearer tokens):
scopes, validation, incremental sync, escaped names on the pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar.testing import TestClient

from appliance.api import AppContext, create_app
from appliance.auth import tokens
from appliance.settings import Settings
from appliance.store import suppliers
from appliance.store.db import Database
from tests.catalogue_support import catalogue_settings, offer_mail

HOSTILE = "Gloves <script>window.__xss=1</script> {{7*7}}"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Database, Settings, dict[str, str]]]:
    settings = catalogue_settings()
    db = Database.open(tmp_path / "api.duckdb")
    suppliers.sync_registry(db, settings.suppliers)
    names = {}
    for name, scopes in (("reader", ["read"]), ("rev", ["read", "review"]),
                         ("admin", ["read", "admin", "review", "export"])):  # fmt: skip
        names[name] = tokens.create_token(db, name, scopes, created_by="t")[1]
    yield db, settings, names
    db.close()


def _client(db: Database, settings: Settings, token: str) -> TestClient[Any]:
    app = create_app(AppContext(settings=settings, db=db, redis=redis.Redis()))
    c = TestClient(app=app)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def test_rates_scopes_validation_and_sync(env: tuple[Database, Settings, dict[str, str]]) -> None:
    db, s, tok = env
    a = offer_mail(db, s, "anna@boxworks.example", [{"product_name": HOSTILE, "sku": "G-1",
                   "unit": "box of 100", "unit_price": 12.0, "currency": "EUR"}])  # fmt: skip
    b = offer_mail(db, s, "ivan@korobka.example", [{"product_name": "Перчатки", "sku": "g1",
                   "unit": "шт", "unit_price": 15.0, "currency": "RUB"}], day=1)  # fmt: skip
    body = {"rates": [{"currency": "RUB", "rate": 0.0105, "date": "2026-11-01"}]}
    with _client(db, s, tok["reader"]) as c:
        assert c.put("/api/v1/catalogue/rates", json=body).status_code == 403
        page = c.get("/api/v1/catalogue", params={"updated_since": "2000-01-01T00:00:00Z"})
        assert page.status_code == 200 and page.json()["total"] == 2
        cursor = {"updated_since": page.json()["next_updated_since"],
                  "after_id": page.json()["next_after_id"]}  # fmt: skip
        assert c.get("/api/v1/catalogue", params=cursor).json()["items"] == []
        (group,) = c.get("/api/v1/products", params={"min_suppliers": 2}).json()["items"]
        assert c.get(f"/api/v1/products/{group['id']}/compare?sort=cost").status_code == 400
        rows = c.get(f"/api/v1/products/{group['id']}/compare").json()["rows"]
        assert [r["normalised_price"] for r in rows] == [0.12, None]  # no RUB rate yet
        assert c.post("/api/v1/catalogue/1/merge", json={"into": 2}).status_code == 403
        html = c.get(f"/products/{group['id']}").text
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt; {{7*7}}" in html
        assert "<script>window.__xss" not in html
        entry = c.get(f"/catalogue/{rows[0]['entry_id']}").text
        assert '<svg class="chart"' in entry and "&lt;script&gt;" in entry
    with _client(db, s, tok["admin"]) as c:
        bad = {"rates": [{"currency": "RUBLES", "rate": 1, "date": "2026-11-01"}]}
        assert c.put("/api/v1/catalogue/rates", json=bad).status_code == 400
        r = c.put("/api/v1/catalogue/rates", json=body)
        assert r.status_code == 200 and r.json()["rates"][0]["date"] == "2026-11-01"
        rows = c.get(f"/api/v1/products/{group['id']}/compare").json()["rows"]
        assert [r["supplier"] for r in rows] == ["BoxWorks", "Korobka"]
        assert rows[1]["normalised_price"] == pytest.approx(15 * 0.0105)
        # Entries of two suppliers are grouped, never merged.
        e1, e2 = rows[0]["entry_id"], rows[1]["entry_id"]
        assert c.post(f"/api/v1/catalogue/{e1}/merge", json={"into": e2}).status_code == 400
        csv = c.get("/api/v1/export/catalogue", params={"format": "csv"})
        assert csv.status_code == 200 and csv.text.count("\n") == 3  # header + two entries
    assert a != b
