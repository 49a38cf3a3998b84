"""Time the supplier catalogue on a generated catalogue: 1,000 suppliers × 20 products × 5
observations = 100,000 observations in 2,000 comparison groups (~10 suppliers each), priced per
box of 100 in EUR, per piece in RUB or per piece in USD (rates for both).

Usage::

    python tests/bench/catalogue.py [--suppliers 1000] [--products 20] [--observations 5]
                                    [--samples 30] [--db PATH]

Prints the generation time and, over ``--samples`` random groups/entries, the median and the
slowest time of: the comparison (``store.catalogue_compare.compare_group``), the product's
read (``catalogue_read.get_entry``), the comparison page, the product page and the compare
API through the real Litestar app (``TestClient``, bearer token), the group list; then the
write path: new offers of 20 items stored through the dialogue on the big catalogue.
Figures, no asserts: this machine's speed is not a test.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from litestar.testing import TestClient  # noqa: E402

from appliance.api import AppContext, create_app  # noqa: E402
from appliance.auth import tokens  # noqa: E402
from appliance.catalogue.rates import parse_csv  # noqa: E402
from appliance.store import catalogue_compare, catalogue_rates, catalogue_read  # noqa: E402
from appliance.store.db import Database, utcnow  # noqa: E402
from tests.catalogue_support import catalogue_settings, offer_mail  # noqa: E402


def generate(db: Database, suppliers: int, products: int, observations: int) -> None:
    """Fill an empty catalogue with set-based SQL (the shape the write path produces)."""
    groups = max(1, suppliers * products // 10)
    now = utcnow()
    con = db.con
    con.execute(
        "INSERT INTO suppliers (name, registered, created_at, updated_at)"
        " SELECT 'Supplier ' || i, FALSE, ?, ? FROM range(1, ? + 1) t(i) ORDER BY i",
        [now, now, suppliers],
    )
    con.execute(
        "INSERT INTO product_groups (name, sku_key, name_key, block, created_at, updated_at)"
        " SELECT 'Product ' || g, 'SKU' || g, 'product ' || g, 'product', ?, ?"
        " FROM range(1, ? + 1) t(g) ORDER BY g",
        [now, now, groups],
    )
    con.execute(
        "INSERT INTO catalogue_entries (supplier_id, name, sku, group_id, group_source,"
        " group_reason, created_at, updated_at)"
        " SELECT s.id, 'Product ' || g, 'SKU' || g, g, 'auto', 'same SKU SKU' || g, ?, ?"
        " FROM (SELECT s.id, ((s.id * 7 + k * 131) % ?) + 1 AS g FROM suppliers s,"
        " range(0, ?) r(k)) s ORDER BY s.id, g",
        [now, now, groups, products],
    )
    con.execute(
        "INSERT INTO catalogue_keys SELECT supplier_id, 'sku:' || sku, id, 'auto', 'bench', ?"
        " FROM catalogue_entries",
        [now],
    )
    con.execute(
        "INSERT INTO catalogue_observations (entry_id, supplier_id, offer_id, item_position,"
        " mail_id, key, observed_at, product_name, sku, unit, unit_price, currency, moq,"
        " lead_time_days, valid_until, match_reason, is_current, created_at)"
        " SELECT e.id, e.supplier_id, e.supplier_id * 1000 + j, 0, e.supplier_id * 1000 + j,"
        " 'sku:' || e.sku, TIMESTAMP '2026-01-01' + INTERVAL (j * 30) DAY, e.name, e.sku,"
        " CASE e.supplier_id % 3 WHEN 0 THEN 'box of 100' ELSE 'pcs' END,"
        " round(CASE e.supplier_id % 3 WHEN 0 THEN 12 WHEN 1 THEN 15 ELSE 0.14 END"
        "  * (1 + 0.02 * j) * (1 + (e.id % 17) / 100.0), 2),"
        " CASE e.supplier_id % 3 WHEN 0 THEN 'EUR' WHEN 1 THEN 'RUB' ELSE 'USD' END,"
        " 10 * (1 + j % 2), 5 + j, '2099-12-31', 'same SKU', TRUE, ?"
        " FROM catalogue_entries e, range(0, ?) r(j) ORDER BY e.id, j",
        [now, observations],
    )
    rates = parse_csv("RUB,0.0105,2026-11-01\nUSD,0.92,2026-11-01\n", "bench")
    catalogue_rates.set_rates(db, rates, "EUR")
    con.execute("CHECKPOINT")


def timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """Median and slowest of ``n`` runs, in ms (one warm-up run first)."""
    fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--suppliers", type=int, default=1000)
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--observations", type=int, default=5)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--db", type=Path, default=None, help="DuckDB file (default: a temp dir)")
    a = ap.parse_args()
    rnd = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = a.db or Path(tmp) / "bench.duckdb"
        db = Database.open(path)
        start = time.perf_counter()
        generate(db, a.suppliers, a.products, a.observations)
        n_obs = db.scalar("SELECT count(*) FROM catalogue_observations")
        n_groups = db.scalar("SELECT count(*) FROM product_groups")
        took, size = time.perf_counter() - start, path.stat().st_size / 1e6
        print(f"generated {n_obs:,} observations, {a.suppliers:,} suppliers,"
              f" {n_groups:,} groups in {took:.1f} s ({size:.0f} MB)")  # fmt: skip
        group_ids = [rnd.randint(1, int(n_groups)) for _ in range(a.samples)]
        entry_ids = [rnd.randint(1, a.suppliers * a.products) for _ in range(a.samples)]
        gi, ei = itertools.cycle(group_ids), itertools.cycle(entry_ids)
        rows = len(catalogue_compare.compare_group(db, group_ids[0], "EUR")["rows"])
        figures = {
            f"comparison query (compare_group, ~{rows} suppliers)":
                timed(lambda: catalogue_compare.compare_group(db, next(gi), "EUR"), a.samples),
            "product read (get_entry, history + changes)":
                timed(lambda: catalogue_read.get_entry(db, next(ei)), a.samples),
        }  # fmt: skip
        settings = catalogue_settings()
        app = create_app(AppContext(settings=settings, db=db, redis=redis.Redis()))
        _, token = tokens.create_token(db, "bench", ["read"], created_by="bench")
        with TestClient(app=app) as c:
            c.headers["Authorization"] = f"Bearer {token}"

            def get(path: str) -> None:
                r = c.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])

            figures["comparison page GET /products/{id} (HTML)"] = timed(
                lambda: get(f"/products/{next(gi)}"), a.samples)  # fmt: skip
            figures["product page GET /catalogue/{id} (HTML + SVG chart)"] = timed(
                lambda: get(f"/catalogue/{next(ei)}"), a.samples)  # fmt: skip
            figures["API GET /api/v1/products/{id}/compare"] = timed(
                lambda: get(f"/api/v1/products/{next(gi)}/compare"), a.samples)  # fmt: skip
            figures["API GET /api/v1/products?min_suppliers=2 (first page)"] = timed(
                lambda: get("/api/v1/products?min_suppliers=2"), 5)  # fmt: skip
        for what, (med, worst) in figures.items():
            print(f"{what:62s} median {med:7.1f} ms   slowest {worst:7.1f} ms")
        item = {"product_name": "Bench gloves", "sku": "SKU1", "unit": "pcs",
                "unit_price": 15.0, "currency": "RUB"}  # fmt: skip
        items = [{**item, "sku": f"SKU{k + 1}", "product_name": f"Product {k + 1}"}
                 for k in range(20)]  # fmt: skip
        start = time.perf_counter()
        writes = 5
        for k in range(writes):
            offer_mail(db, settings, f"sales@bench{k}.example", items, day=k)
        per = (time.perf_counter() - start) * 1000 / writes
        print(
            f"{'write: an offer of 20 items through the dialogue (+ catalogue)':62s}"
            f" {per:7.1f} ms per offer ({per / 20:.1f} ms per item)"
        )
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
