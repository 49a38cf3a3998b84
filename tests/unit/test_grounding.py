"""The grounded schema and its decoding (``extract.grounding``): pure functions, no model."""

from __future__ import annotations

import jsonschema

from appliance.extract import choice, grounding, stated
from appliance.extract.fields import ExtraField
from appliance.extract.readers import read

NAILS = (
    "Dear team,\n\nGalvanized nails 3.1x90 mm, brand NordFix, art. NF-3190\n"
    "Quantity: 500 boxes\nPrice: 12.40 EUR per box\nMinimum order: 100 boxes\n"
    "Lead time: 2 weeks\n\nPrices are valid until 2026-12-31, FCA Gothenburg. "
    "Payment 30 days net.\n\nNordic Fasteners AB\n"
)
CHAIRS = (
    "- Ergonomic office chair ErgoPro 300 (EP-300): 20 pcs at $149.00\n"
    "- Standing desk 160x80 cm (SD-1608): 10 pcs at $389.00\n\nDelivery within 10 days.\n"
)


def test_every_value_is_an_enum_of_the_mails_strings_and_unstated_fields_are_absent():
    g = grounding.build(NAILS, "Quotation: galvanized nails")
    schema = grounding.schema(g)
    item = schema["properties"]["i"]["items"]
    assert item["required"] == ["n"]
    for prop in item["properties"].values():
        assert all(opt in NAILS or opt in "Quotation: galvanized nails" for opt in prop["enum"])
    assert "w" not in item["properties"]  # no weight stated: no weight can be written
    assert "t" not in item["properties"]  # no total stated
    assert item["properties"]["p"]["enum"] == ["12.40 EUR"]
    assert schema["properties"]["i"]["maxItems"] == 1  # one price, one quantity: one product
    assert schema["properties"]["i"]["minItems"] == 1  # a price: it offers
    jsonschema.Draft202012Validator.check_schema(schema)


def test_decode_maps_choices_back_to_typed_values_and_shares_stated_facts():
    g = grounding.build(NAILS)
    answer = {"i": [{"n": "Galvanized nails 3.1x90 mm", "p": "12.40 EUR", "q": "500 boxes"}]}
    decoded = choice.decode(answer, g)
    (item,) = decoded.items
    assert item == {
        "product_name": "Galvanized nails 3.1x90 mm", "unit_price": 12.4, "currency": "EUR",
        "quantity": 500.0, "unit": "boxes",
    }  # fmt: skip
    filled = stated.share_facts(decoded.items, g.cands, "Quotation", NAILS)
    assert item["moq"] == 100 and item["lead_time_days"] == 14 and item["sku"] == "NF-3190"
    assert item["brand"] == "NordFix" and "items[0].moq" in filled
    assert stated.offer_terms(g.cands) == {
        "valid_until": "2026-12-31", "incoterms": "FCA Gothenburg", "payment_terms": "30 days net",
    }  # fmt: skip


def test_an_unknown_option_is_not_decoded():
    g = grounding.build(NAILS)
    decoded = choice.decode({"i": [{"n": "Galvanized nails 3.1x90 mm", "p": "99 EUR"}]}, g)
    assert "unit_price" not in decoded.items[0]


def test_a_fact_given_to_two_items_belongs_to_the_nearest_and_the_lead_time_to_all():
    g = grounding.build(CHAIRS)
    answer = {"i": [
        {"n": "Ergonomic office chair ErgoPro 300", "p": "$149.00", "d": "160x80 cm"},
        {"n": "Standing desk 160x80 cm", "p": "$389.00", "d": "160x80 cm"},
    ]}  # fmt: skip
    decoded = choice.decode(answer, g)
    assert "dimensions" not in decoded.items[0]
    assert decoded.items[1]["dimensions"]["length"] == 160
    stated.share_facts(decoded.items, g.cands)
    assert [i["lead_time_days"] for i in decoded.items] == [10, 10]


def test_items_without_facts_of_their_own_are_dropped_when_others_have_some():
    g = grounding.build(CHAIRS)
    answer = {"i": [
        {"n": "Ergonomic office chair ErgoPro 300", "p": "$149.00"},
        {"n": "Standing desk 160x80 cm", "p": "$149.00"},  # the chair's price again
        {"n": "Standing desk 160x80 cm (SD-1608)"},
    ]}  # fmt: skip
    decoded = choice.decode(answer, g)
    assert [i["product_name"] for i in decoded.items] == ["Ergonomic office chair ErgoPro 300"]


def test_confidence_paths_follow_the_decoded_items():
    g = grounding.build(CHAIRS)
    answer = {"i": [{"n": "nothing of the mail"}, {"n": "Standing desk 160x80 cm", "p": "$389.00"}]}
    decoded = choice.decode(answer, g)
    conf = choice.confidence_paths({"i[1].n": 0.9, "i[1].p": 0.8}, decoded, offset=2)
    assert conf == {"items[2].product_name": 0.9, "items[2].unit_price": 0.8,
                    "items[2].currency": 0.8}  # fmt: skip


def test_dimensions_need_a_unit_and_a_measured_axis():
    found = {d.text: grounding.sized(d) for d in read(
        'Sheets 8 1/2 x 11, frame 11 x 14", box 60x40x40 cm, tube 12", shelf 36" wide'
    ).dimensions}  # fmt: skip
    assert found["8 1/2 x 11"] is False  # no unit stated
    assert found['11 x 14"'] is True and found["60x40x40 cm"] is True
    assert found['12"'] is False  # a lone length says not what it measures
    assert found['36" wide'] is True


def test_paper_weights_are_not_product_weights():
    text = "Copy paper 24 lb bond\nShelf, weight 45 kg\n"
    weights = read(text).weights
    assert [grounding.product_weight(w, text) for w in weights] == [False, True]


def test_title_brands_offer_the_titles_first_words_the_body_names():
    got = grounding.title_brands("Offer: Safco Steel Cart", "Safco Steel Cart, 3 shelves")
    assert [s.text for s in got] == ["Safco", "Safco Steel"]  # three words only when repeated
    text = "Genuine Canon 1492A002 Black Toner. Canon quality."
    got = grounding.title_brands("Offer: Genuine Canon 1492A002 Black Toner", text)
    assert [s.text for s in got] == ["Canon"]  # the qualifier skipped, the code ends it
    text = "R4785 Dell 36-GB U320 SCSI drive"
    got = grounding.title_brands("Offer: R4785 Dell 36-GB U320 SCSI", text)
    assert [s.text for s in got] == ["Dell"]  # the leading article code skipped
    got = grounding.title_brands("Offer: 3M Scotch Tape", "3M Scotch Tape, 12 rolls")
    assert [s.text for s in got] == ["3M", "3M Scotch"]
    assert grounding.title_brands("Re: 2 Deals for tomorrow", "2 Deals for tomorrow") == []
    text = "Stanley Bostitch Stapler, black. By Stanley."
    got = grounding.title_brands("Offer: Stanley Bostitch Stapler, Black", text)
    assert [(s.text, s.start) for s in got] == [("Stanley", 0), ("Stanley Bostitch", 0)]
    text = "Roaring Spring notebook. Roaring Spring quality."
    got = grounding.title_brands("Offer: Roaring Spring Notebook", text)
    assert [s.text for s in got] == ["Roaring Spring", "Roaring"]  # repeated: likeliest first
    assert grounding.title_brands("Offer: Acme Glue", "a glue by ACME") == []  # not named
    assert grounding.title_brands("Re: Your order", "Your order shipped") == []


def test_extra_fields_are_options_of_the_mail_and_labelled_lines_are_read():
    color = ExtraField(key="extra.color", level="item", kind="text", description="the colour",
                       labels=(("en", "Colour"),))  # fmt: skip
    months = ExtraField(key="extra.warranty_months", level="item", kind="integer")
    text = "Box 40x30x20 cm: 500 pcs at 0.85 EUR.\nColour: red. Warranty 24 months.\n"
    g = grounding.build(text, extra=[color, months])
    props = grounding.schema(g)["properties"]["i"]["items"]["properties"]
    assert "24" in props["warranty_months"]["enum"] and "red" in props["color"]["enum"]
    decoded = choice.decode({"i": [{"n": "Box 40x30x20 cm", "warranty_months": "24"}]}, g)
    assert decoded.items[0]["extra"] == {"warranty_months": 24}
    assert stated.labelled_extra(text, [color, months]) == {"color": "red"}


def test_a_resellers_article_number_comes_before_the_makers_code_it_wraps():
    text = "E250X22G Photoconductor Kit by Lexmark LEXE250X22G, also fits E350."
    codes = [c.text for c in grounding.seller_codes_first(read(text).codes)]
    assert codes[0] == "LEXE250X22G" and "E250X22G" in codes


def test_a_subject_about_a_transaction_gives_no_title_brand():
    text = "Dell Order Confirmation. Thank you for your order of a Dell modem."
    assert grounding.title_brands("Dell Order Confirmation", text) == []
    text = "Private Office Pricing: Private Office station $750"
    assert grounding.title_brands("Private Office Pricing", text) == []
    text = "Purchase Order Book, 7 x 2 3/4, by Rediform"  # "order" in a title is still a title
    got = grounding.title_brands("Offer: Purchase Order Book, 7 x 2 3/4", text)
    assert "Purchase" in [s.text for s in got]
