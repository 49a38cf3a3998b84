"""The offer's field list read from the contract models, and the configured extra fields:
settings validation, type checks, schema fragments, prompt lines, the answer form, evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from appliance.errors import ConfigError
from appliance.extract import fields
from appliance.extract.contract import Item, Offer
from appliance.extract.evidence import Evidence, check_evidence, unfound_values
from appliance.settings import Settings, load_settings
from appliance.store import corrections, offers
from appliance.web import routes
from appliance.workflow import compose, labels
from appliance.workflow.answers import parse_answers
from appliance.workflow.completeness import evaluate, rules_for
from finetune import scoring

EXTRA = [
    {"name": "color", "type": "text", "description": "colour of the product", "label": "Colour",
     "labels": {"ru": "Цвет"}},
    {"name": "warranty_months", "type": "integer", "label": "Warranty (months)",
     "required": True},
    {"name": "certified", "type": "boolean"},
    {"name": "delivery_zone", "level": "offer", "description": "zone or region served"},
    {"name": "price_date", "type": "date", "level": "offer"},
]  # fmt: skip


@pytest.fixture
def settings() -> Settings:
    return Settings.model_validate({"extraction": {"fields": EXTRA}})


def test_field_lists_come_from_the_models() -> None:
    assert tuple(n for n in Item.model_fields if n != "extra") == fields.ITEM_NAMES
    assert (
        *(n for n in fields.ITEM_NAMES if n not in ("dimensions", "weight")),
        "dimensions",
        "weight",
    ) == fields.ITEM_SCALARS + fields.ITEM_COMPOUNDS
    assert fields.OFFER_VALUES == ("valid_until", "incoterms", "payment_terms")
    assert fields.NUMERIC_ITEM_FIELDS == (
        "quantity", "unit_price", "total_price", "moq", "lead_time_days",
    )  # fmt: skip
    kinds = {f.key: f.kind for f in (*fields.ITEM_FIELDS, *fields.OFFER_FIELDS)}
    assert kinds["currency"] == "currency" and kinds["dimensions"] == "dimensions"
    assert kinds["lead_time_days"] == "integer" and kinds["valid_until"] == "date"
    assert not fields.contract_field("language").scored
    assert fields.contract_field("unit_price").label("ru") == "Цена за единицу"
    # Every reader of the shape has the same list.
    assert offers.ITEM_SCALARS == fields.ITEM_SCALARS
    assert offers.OFFER_SCALARS == fields.OFFER_VALUES
    assert set(fields.OFFER_VALUES) == labels.OFFER_FIELDS
    assert (*fields.ITEM_SCALARS, *fields.ITEM_COMPOUNDS) == corrections.ITEM_FIELDS
    assert routes.FORM_ITEM_FIELDS == fields.ITEM_SCALARS
    # finetune.scoring imports nothing of the appliance: its copies must agree.
    assert scoring.ITEM_FIELDS == fields.SCORED_ITEM_FIELDS
    assert scoring.OFFER_FIELDS == fields.SCORED_OFFER_FIELDS
    assert set(fields.NUMERIC_ITEM_FIELDS) == scoring.NUMERIC_FIELDS
    # Every field the form may ask has its label in every language of the e-mails.
    for key in (*fields.ITEM_NAMES, *fields.OFFER_VALUES):
        assert {lang for lang, _ in fields.contract_field(key).labels} == {"en", "ru"}, key
    # One copy of the labels: the answer form's come from the field list.
    for lang in labels.SUPPORTED_LANGUAGES:
        assert {k: v for k, v in labels.FIELD_LABELS[lang].items() if "|" not in k} == (
            fields.form_labels(lang)
        )


def test_extra_fields_from_settings(settings: Settings) -> None:
    extra = fields.extra_fields(settings)
    assert [(f.key, f.level, f.kind) for f in extra] == [
        ("extra.color", "item", "text"),
        ("extra.warranty_months", "item", "integer"),
        ("extra.certified", "item", "boolean"),
        ("extra.delivery_zone", "offer", "text"),
        ("extra.price_date", "offer", "date"),
    ]
    color = extra[0]
    assert color.name == "color" and color.is_extra and color.label() == "Colour"
    assert color.label("ru") == "Цвет" and extra[2].label("ru") == "certified"
    assert color.json_schema() == {
        "anyOf": [{"type": "string", "minLength": 1, "maxLength": 120}, {"type": "null"}],
        "description": "colour of the product",
    }
    assert extra[1].json_schema()["anyOf"][0]["type"] == "integer"
    assert extra[4].json_schema()["anyOf"][0]["pattern"].startswith("^[0-9]{4}-")
    assert color.prompt_line() == "color (text): colour of the product"
    assert extra[4].prompt_line() == "price_date (YYYY-MM-DD)"
    schema = fields.extra_schema(extra, "offer")
    assert schema["required"] == ["delivery_zone", "price_date"]
    assert schema["additionalProperties"] is False
    text = fields.prompt_text(extra)
    assert "each item, in extra: color (text)" in text
    assert "the offer, in extra: delivery_zone" in text
    assert fields.prompt_text([]) == ""
    # A required field joins the default completeness rules of its level.
    assert settings.dialogue.completeness.item_fields[-1] == "extra.warranty_months"


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("text", "  dark   red ", "dark red"),
        ("text", 42, "42"),
        ("number", "12,5", 12.5),
        ("number", 3, 3.0),
        ("integer", "24", 24),
        ("integer", 24.0, 24),
        ("boolean", "Yes", True),
        ("boolean", "нет", False),
        ("boolean", False, False),
        ("date", "2027-01-31", "2027-01-31"),
        ("text", "  ", None),
        ("number", None, None),
    ],
)
def test_extra_values_are_coerced_to_their_type(kind: str, given: object, expected: object) -> None:
    f = fields.ExtraField(key="extra.x", level="item", kind=kind)  # type: ignore[arg-type]
    assert f.coerce(given) == expected
    assert type(f.coerce(given)) is type(expected)


@pytest.mark.parametrize(
    ("kind", "given"),
    [("integer", 2.5), ("number", True), ("number", "many"), ("boolean", "maybe"),
     ("date", "31.01.2027"), ("text", "x" * 121), ("text", ["a"])],
)  # fmt: skip
def test_bad_extra_values_are_refused(kind: str, given: object) -> None:
    f = fields.ExtraField(key="extra.x", level="item", kind=kind)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="extra field 'x'"):
        f.coerce(given)


def test_contract_models_check_extra_values(settings: Settings) -> None:
    ctx = fields.contract_context(fields.extra_fields(settings))
    item = Item.model_validate(
        {"product_name": "Box", "extra": {"color": " red ", "warranty_months": "24",
                                          "certified": None}},
        context=ctx,
    )  # fmt: skip
    assert item.extra == {"color": "red", "warranty_months": 24}
    offer = Offer.model_validate({"extra": {"delivery_zone": "EU"}}, context=ctx)
    assert offer.model_dump(mode="json")["extra"] == {"delivery_zone": "EU"}
    with pytest.raises(ValidationError, match="no extra field 'size' for the item"):
        Item.model_validate({"product_name": "Box", "extra": {"size": "L"}}, context=ctx)
    with pytest.raises(ValidationError, match="no extra field 'color' for the offer"):
        Offer.model_validate({"extra": {"color": "red"}}, context=ctx)
    with pytest.raises(ValidationError, match="warranty_months"):
        Item.model_validate({"product_name": "B", "extra": {"warranty_months": 1.5}}, context=ctx)
    # Without the configuration only names and scalar values are checked; nulls are dropped.
    assert Item(product_name="B", extra={"size": "L", "n": None}).extra == {"size": "L"}
    with pytest.raises(ValidationError):
        Item.model_validate({"product_name": "B", "extra": {"Bad Name": 1}})
    assert Item(product_name="B").model_dump()["extra"] == {}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "unit_price"}, "is a field of the contract already"),
        ({"name": "extra"}, "is a field of the contract already"),
        ({"name": "Colour"}, "lower-case letters"),
        ({"name": "color", "type": "list"}, "Input should be 'text'"),
        ({"name": "color", "level": "line"}, "Input should be 'item' or 'offer'"),
        ({"name": "color", "label": "Colour: RAL"}, "without ':'"),
        ({"name": "color", "labels": {"Russian": "Цвет"}}, "not a language code"),
        ({"name": "color", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_extra_field_entries_are_config_errors(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    body = "[[extraction.fields]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in entry.items())
    path = tmp_path / "a.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=r"extraction\.fields") as err:
        load_settings(path, env={})
    assert message in str(err.value)


def _toml(v: object) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f'"{k}" = "{x}"' for k, x in v.items()) + "}"
    return f'"{v}"'


def test_extra_fields_from_toml_and_env(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        '[[extraction.fields]]\nname = "color"\ndescription = "colour"\n\n'
        '[[extraction.fields]]\nname = "warranty_months"\ntype = "integer"\n'
        '[[suppliers]]\nname = "Acme"\nitem_fields = ["product_name", "color"]\n'
    )
    s = load_settings(path, env={})
    assert [f.name for f in s.extraction.fields] == ["color", "warranty_months"]
    assert s.suppliers[0].item_fields == ["product_name", "extra.color"]
    assert "extra.color" not in s.dialogue.completeness.item_fields  # not required
    env = {"APPLIANCE_EXTRACTION__FIELDS": '[{"name": "size", "required": true}]'}
    s = load_settings(path, env=env)
    assert [f.name for f in s.extraction.fields] == ["size"]
    assert "extra.size" in s.dialogue.completeness.item_fields
    dup = {"extraction": {"fields": [{"name": "a"}, {"name": "a"}]}}
    with pytest.raises(ValidationError, match="configured twice: a"):
        Settings.model_validate(dup)
    wrong_level = {
        "extraction": {"fields": [{"name": "zone", "level": "offer"}]},
        "dialogue": {"completeness": {"item_fields": ["product_name", "zone"]}},
    }
    with pytest.raises(ValidationError, match="'zone' is an extra field of the offer"):
        Settings.model_validate(wrong_level)
    unknown = {"dialogue": {"completeness": {"item_fields": ["extra.size"]}}}
    with pytest.raises(ValidationError, match="no configured extra field"):
        Settings.model_validate(unknown)


def test_required_extra_field_per_supplier(settings: Settings) -> None:
    from appliance.store.suppliers import Supplier

    item = {"product_name": "Box", "unit_price": 1.0, "currency": "EUR", "quantity": 5,
            "lead_time_days": 3, "extra": {}}  # fmt: skip
    offer = {"items": [item], "extra": {}}
    comp = evaluate(offer, rules_for(settings.dialogue, None))
    assert comp.missing_items == {0: ["extra.warranty_months"]}
    item["extra"] = {"warranty_months": 0}  # zero is a value
    assert evaluate(offer, rules_for(settings.dialogue, None)).status == "complete"
    # A supplier's own list replaces the defaults: required only where it names the field.
    sup = Supplier(id=1, name="A", registered=True, language=None, auto_questions=None,
                   acknowledgements=None, offer_fields=["extra.delivery_zone"],
                   item_fields=["product_name"])  # fmt: skip
    comp = evaluate(offer, rules_for(settings.dialogue, sup))
    assert comp.missing_items == {} and comp.missing_offer == ["extra.delivery_zone"]
    offer["extra"] = {"delivery_zone": "EU"}
    assert evaluate(offer, rules_for(settings.dialogue, sup)).status == "complete"


def test_answer_form_asks_and_reads_extra_fields(settings: Settings) -> None:
    extra = fields.extra_fields(settings)
    msg = compose.compose_questions(
        kind="clarification", language="ru", token="Q-7K3M9P", to_addr="a@x.example",
        to_name=None, from_addr="p@y.example", from_name="P", original_subject="Offer",
        in_reply_to=None, references=[],
        items=[compose.AskedItem(1, "Box", ["unit_price", "extra.color"])],
        offer_missing=["extra.delivery_zone"], round_no=1, max_rounds=2, idem_key="k",
        id_domain="y.example", extra=extra,
    )  # fmt: skip
    assert "   Цвет: " in msg.body and "   delivery zone: " in msg.body
    with pytest.raises(ValueError, match="no label"):
        compose.compose_questions(
            kind="clarification", language="en", token="Q-7K3M9P", to_addr="a@x.example",
            to_name=None, from_addr="p@y.example", from_name="P", original_subject=None,
            in_reply_to=None, references=[], items=[compose.AskedItem(1, "Box", ["extra.color"])],
            offer_missing=[], round_no=1, max_rounds=2, idem_key="k", id_domain="y.example",
        )  # fmt: skip
    reply = (
        "1. Box\n   Цена за единицу: 5 EUR\n   Цвет: тёмно-синий\n   Warranty (months): 24\n"
        "   Certified: no\n\nПредложение:\n   delivery zone: EU and UK\n"
    )
    got = [(a.number, a.field, a.value) for a in parse_answers(reply, extra)]
    assert got == [
        (1, "unit_price", 5.0),
        (1, "currency", "EUR"),
        (1, "extra.color", "тёмно-синий"),
        (1, "extra.warranty_months", 24),
        (1, "extra.certified", False),
        (None, "extra.delivery_zone", "EU and UK"),
    ]
    # Without the configuration those lines are no answers; a bad value is none either.
    assert [a.field for a in parse_answers(reply)] == ["unit_price", "currency"]
    assert parse_answers("Warranty (months): about two years", extra) == []
    assert parse_answers("Colour: n/a\nCertified: n/a", extra) == []


def test_evidence_check_treats_extra_values_like_the_others(settings: Settings) -> None:
    ctx = fields.contract_context(fields.extra_fields(settings))
    offer = Offer.model_validate(
        {"items": [{"product_name": "Corrugated box", "extra": {
            "color": "red", "warranty_months": 24, "certified": True}}],
         "extra": {"delivery_zone": "Nordics", "price_date": "2027-01-31"}},
        context=ctx,
    )  # fmt: skip
    text = "Corrugated box in red, 24 months warranty. Prices of 31.01.2027."
    checked, dropped = check_evidence(offer, Evidence("Offer", "a@x.example", text))
    assert checked.items[0].extra == {"color": "red", "warranty_months": 24, "certified": True}
    assert checked.extra == {"price_date": "2027-01-31"}
    assert dropped == ["extra.delivery_zone"]
    assert unfound_values(offer, dropped) == {"extra.delivery_zone": "Nordics"}
    text = "Corrugated box, 12 months warranty."
    checked, dropped = check_evidence(offer, Evidence("Offer", "a@x.example", text))
    assert checked.items[0].extra == {"certified": True}  # a yes/no cannot be looked for
    assert {"items[0].extra.color", "items[0].extra.warranty_months"} <= set(dropped)
    assert unfound_values(offer, dropped)["items[0].extra.warranty_months"] == 24


def test_record_helpers() -> None:
    item = {"product_name": "Box", "extra": {"color": "red"}}
    assert fields.get_value(item, "extra.color") == "red"
    assert fields.get_value(item, "extra.size") is None
    assert fields.get_value({"product_name": "Box"}, "extra.color") is None
    fields.set_value(item, "extra.size", "L")
    fields.set_value(item, "extra.color", None)
    assert item["extra"] == {"size": "L"}
    assert fields.extra_keys(item) == ["extra.size"]
    assert list(fields.item_values(item))[-2:] == ["lead_time_days", "extra.size"]
    assert fields.split_extra({"sku": "A", "extra.color": "red", "extra": {"size": "L"}}) == (
        {"sku": "A"},
        {"color": "red", "size": "L"},
    )
    with pytest.raises(ValueError, match="an object"):
        fields.split_extra({"extra": "red"})
