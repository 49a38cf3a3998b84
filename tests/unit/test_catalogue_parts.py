"""The catalogue's pure parts: keys and name matching, units, changes and anomalies, the
comparison's normalisation, the rates file, the chart."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.catalogue import changes, names, units
from appliance.catalogue.compare import Rate, compare, sort_rows
from appliance.catalogue.rates import parse_csv
from appliance.errors import ConfigError
from appliance.web.chart import price_chart


def test_keys_normalise_sku_name_and_brand() -> None:
    assert names.item_key("x", "ab-12/3", None) == "sku:AB123"
    assert names.item_key("Tape 50mm, brown", None, "Tesa") == names.item_key(
        "brown TAPE 50 mm", None, "tesa"
    )
    assert names.item_key("Tape", None, "Tesa") != names.item_key("Tape", None, "3M")
    assert names.norm_name("Café crème") == "cafe creme"


def test_name_match_explains_itself_and_refuses_other_sizes_and_brands() -> None:
    cands = [
        names.Candidate(1, "Nitrile gloves size M, box of 100", None, "Safeskin"),
        names.Candidate(2, "Hex bolt M8 x 40 zinc", None, None),
    ]
    m = names.best_by_name("Safeskin nitrile gloves size M box of 100", None, "Safeskin",
                           cands, 0.9)  # fmt: skip
    assert m is not None and m.id == 1 and "close to" in m.reason and "same brand" in m.reason
    # Another number (M10 vs M8): another product, however close the rest is.
    assert names.best_by_name("Hex bolt M10 x 40 zinc", None, None, cands, 0.5) is None
    # Another brand never matches; a blocked candidate is skipped.
    assert names.best_by_name("Nitrile gloves size M, box of 100", None, "Ansell", cands,
                              0.5) is None  # fmt: skip
    assert names.best_by_name("Hex bolt M8 x 40 zinc", None, None, cands, 0.5, {2}) is None


@pytest.mark.parametrize(
    ("unit", "name", "amount", "base"),
    [
        ("box of 100", None, 100, "piece"),
        ("100 pcs/box", None, 100, "piece"),
        ("упаковка 100 шт", None, 100, "piece"),
        ("шт", None, 1, "piece"),
        ("pcs", None, 1, "piece"),
        ("g", None, 0.001, "kg"),
        ("2.5 kg", None, 2.5, "kg"),
        ("roll 50 m", None, 50, "m"),
        ("box", "Gloves (box of 50)", 50, "piece"),
        ("dozen", None, 12, "piece"),
    ],
)
def test_price_units(unit: str, name: str | None, amount: float, base: str) -> None:
    pu = units.price_unit(unit, name)
    assert pu is not None and pu.base == base and pu.amount == pytest.approx(amount)


def test_units_that_cannot_be_told() -> None:
    assert units.price_unit("box", "Gloves") is None  # a box of unknown size
    assert units.price_unit(None) is None
    assert units.price_unit("bottle") is None


def test_change_detection_thresholds() -> None:
    t = changes.Terms
    assert changes.detect(t(10, "EUR", 5, 7), t(10.1, "EUR", 5, 7), 0.02) is None
    ch = changes.detect(t(10, "EUR", 5, 7), t(11, "EUR", 10, None), 0.02)
    assert ch is not None and ch.kinds == ["price", "moq"]  # no lead time stated: no change
    assert ch.detail["price"] == {"before": 10, "after": 11, "share": 0.1}
    cur = changes.detect(t(10, "EUR", None, None), t(900, "RUB", None, None), 0.02)
    assert cur is not None and cur.kinds == ["currency", "price"]


def test_anomalies_ten_times_and_new_currency() -> None:
    t = changes.Terms
    out = changes.anomalies("Glue", t(120, "EUR", None, None), t(12, "EUR", None, None),
                            {"EUR"}, 10)  # fmt: skip
    assert len(out) == 1 and "10× the last one" in out[0]
    assert changes.anomalies("Glue", t(13, "EUR", None, None), t(12, "EUR", None, None),
                             {"EUR"}, 10) == []  # fmt: skip
    out = changes.anomalies("Glue", t(13, "USD", None, None), None, {"EUR"}, 10)
    assert out and "never used before (EUR)" in out[0]
    assert changes.anomalies("Glue", t(13, "USD", None, None), None, set(), 10) == []


def _row(entry: int, supplier: str, price: float | None, cur: str | None, unit: str | None,
         **more: object) -> dict[str, object]:  # fmt: skip
    return {"entry_id": entry, "supplier_id": entry, "supplier": supplier,
            "product_name": "Gloves", "unit_price": price, "currency": cur, "unit": unit,
            "offer_id": entry, "mail_id": entry, "observed_at": dt.datetime(2026, 11, 1),
            **more}  # fmt: skip


def test_compare_normalises_unit_and_currency_or_says_why_not() -> None:
    rates = {"RUB": Rate("RUB", 0.01, dt.date(2026, 11, 1), "file rates.csv")}
    rows = [
        _row(1, "A", 12.0, "EUR", "box of 100"),
        _row(2, "B", 11.0, "RUB", "шт"),
        _row(3, "C", 1.0, "USD", "pcs"),
        _row(4, "D", 5.0, "EUR", "kg"),
        _row(5, "E", 3.0, "EUR", "box", valid_until="2020-01-01"),
    ]
    out = {r.supplier: r for r in compare(rows, rates, "EUR", dt.date(2026, 12, 1))}
    assert out["A"].normalised_price == pytest.approx(0.12)
    assert out["B"].normalised_price == pytest.approx(0.11)
    assert out["B"].rate == {"currency": "RUB", "rate": 0.01, "as_of": "2026-11-01",
                             "source": "file rates.csv"}  # fmt: skip
    assert out["A"].normalised_unit == "EUR per piece"
    assert out["C"].normalised_price is None and "no rate USD→EUR" in out["C"].notes[0]
    assert out["D"].normalised_price is None and "not comparable" in out["D"].notes[0]
    assert out["E"].expired and "cannot be converted" in out["E"].notes[-1]
    order = [r.supplier for r in sort_rows(list(out.values()), "price")]
    assert order[:2] == ["B", "A"]
    assert [r.supplier for r in sort_rows(list(out.values()), "price", True)][:2] == ["A", "B"]


def test_rates_csv() -> None:
    rates = parse_csv(
        "currency,rate,date\nRUB,0.0105,2026-11-01\n# comment\nusd, 0.92 ,2026-11-02\n"
    )
    assert [(r.currency, r.rate, r.as_of.isoformat()) for r in rates] == [
        ("RUB", 0.0105, "2026-11-01"), ("USD", 0.92, "2026-11-02")]  # fmt: skip
    with pytest.raises(ConfigError, match="line 2"):
        parse_csv("RUB,0.01,2026-11-01\nRUBLES,1,2026-11-01\n")
    with pytest.raises(ConfigError, match="positive"):
        parse_csv("RUB,-1,2026-11-01\n")


def test_chart_draws_the_current_prices_in_the_main_currency() -> None:
    hist = [
        {"id": 1, "is_current": True, "unit_price": 12.0, "currency": "EUR",
         "observed_at": "2026-10-01T09:00:00Z", "mail_id": 1},
        {"id": 2, "is_current": True, "unit_price": 13.5, "currency": "EUR",
         "observed_at": "2026-10-31T09:00:00Z", "mail_id": 2},
        {"id": 3, "is_current": False, "unit_price": 99.0, "currency": "EUR",
         "observed_at": "2026-10-15T09:00:00Z", "mail_id": 3},
    ]  # fmt: skip
    chart = price_chart(hist)
    assert chart is not None and chart.currency == "EUR" and chart.left_out == 1
    (x1, y1), (x2, y2) = (tuple(map(float, p.split(","))) for p in chart.points.split())
    assert x1 < x2 and y2 < y1  # later and dearer: right and up
    assert chart.dots[1]["title"] == "2026-10-31: 13.5 EUR"
    assert price_chart([]) is None
