"""Lines, product-name spans and tables read from a mail's layout (``extract.layout``)."""

from __future__ import annotations

from appliance.extract.layout import lines, name_options, row_cells, tables

PRICE_LIST = """Добрый день, направляем прайс.

| Наименование | Артикул | Кол-во | Цена, руб. |
|---|---|---|---|
Кабели силовые
| Кабель ВВГнг 3x2,5 | VVG-325 | 1000 | 85,50 |
| Кабель ВВГнг 3x1,5 | VVG-315 | 500 | 61,20 |
| Наименование | Артикул | Кол-во | Цена, руб. |
| Провод ПВС 2x0,75 | PVS-207 | 200 | 30,00 |
| Итого | | | 121 000,00 |
"""


def test_line_kinds_and_cells_keep_their_offsets():
    text = "Hello,\n\n- Chair X: 20 pcs\nPrice: 12.40 EUR\nA  |  B\n"
    got = lines(text)
    assert [ln.kind for ln in got] == ["prose", "blank", "bullet", "kv", "row", "blank"][: len(got)]
    for ln in got:
        assert text[ln.start : ln.end] == ln.text
        for c in ln.cells:
            assert text[c.start : c.end] == c.text
    assert got[3].cells[1].text == "12.40 EUR"


def test_name_options_are_spans_cut_before_figures():
    text = "- Ergonomic office chair ErgoPro 300 (EP-300): 20 pcs at $149.00\nBest regards,\n"
    cut = text.index("20 pcs")
    opts = name_options(text, "Re: Offer for chairs", [cut, text.index("$149")])
    assert "Ergonomic office chair ErgoPro 300" in opts
    assert "Offer for chairs" in opts  # the subject without its "Re:"
    assert all(o in text or o in "Offer for chairs" for o in opts)
    assert not any(o.startswith("Best regards") for o in opts)
    assert "20 pcs at $149.00" not in opts  # starts at a figure: not a name


def test_a_table_is_read_by_its_header_skipping_sections_repeats_and_totals():
    found = tables(PRICE_LIST)
    assert len(found) == 1
    t = found[0]
    assert set(t.roles.values()) == {"name", "sku", "quantity", "unit_price"}
    assert t.currency_text == "руб."
    rows = [{k: v.text for k, v in row_cells(t, r).items()} for r in t.rows]
    names = ["Кабель ВВГнг 3x2,5", "Кабель ВВГнг 3x1,5", "Провод ПВС 2x0,75"]
    assert [r["name"] for r in rows] == names
    assert rows[0] == {
        "name": "Кабель ВВГнг 3x2,5", "sku": "VVG-325", "quantity": "1000", "unit_price": "85,50",
    }  # fmt: skip


def test_space_aligned_columns_pair_by_position():
    text = (
        "Item                 Qty    Unit price\n"
        "Bolt M8 zinc         100    0.12 USD\n"
        "Nut M8               200    0.05 USD\n"
    )
    (t,) = tables(text)
    rows = [{k: v.text for k, v in row_cells(t, r).items()} for r in t.rows]
    assert rows[1] == {"name": "Nut M8", "quantity": "200", "unit_price": "0.05 USD"}


def test_prose_has_no_table():
    assert tables("We offer chairs at 20 USD.\nDelivery 10 days.\n") == []
