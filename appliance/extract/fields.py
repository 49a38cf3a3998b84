"""The offer's fields, read from the contract models: the one list every reader of the shape uses.

The pydantic models of ``extract.contract`` (``Item``, ``Offer``) own the field names and their
order. This module adds what the models do not say: each field's kind, whether scoring counts
it and its labels (answer form, dashboard); and the extra fields configured in
``[[extraction.fields]]`` (``settings.extraction.fields``) with their type check, JSON-schema
fragment and prompt line.

A field is addressed by its *key*: the contract name (``unit_price``) or, for an extra field,
``extra.<name>``: the path the contract's JSON gives it (``items[0].extra.color``), used alike by
provenance, corrections, completeness rules and the answer form.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

from appliance.extract.contract import (
    EXTRA_CONTEXT,
    MAX_NUMBER,
    Dimensions,
    ExtraValue,
    Item,
    Offer,
    Supplier,
    Weight,
)
from appliance.extract.extra_values import COERCE, MAX_EXTRA_TEXT

if TYPE_CHECKING:
    from appliance.settings import Settings

Kind = Literal["text", "number", "integer", "currency", "date", "dimensions", "weight", "boolean"]
Level = Literal["item", "offer"]

EXTRA = "extra"
EXTRA_PREFIX = "extra."
COMPOUND_KINDS: frozenset[str] = frozenset({"dimensions", "weight"})
NUMERIC_KINDS: frozenset[str] = frozenset({"number", "integer"})

# Labels of the contract's fields in the answer form and on the dashboard (one copy; see
# ``workflow.labels``). A parenthesised tail is a hint: the form parser also accepts the label
# without it.
_LABELS: dict[str, dict[str, str]] = {
    "product_name": {"en": "Product name", "ru": "Наименование"},
    "sku": {"en": "Article number (SKU)", "ru": "Артикул"},
    "brand": {"en": "Brand", "ru": "Бренд"},
    "quantity": {"en": "Quantity", "ru": "Количество"},
    "unit": {"en": "Unit of measure", "ru": "Единица измерения"},
    "unit_price": {"en": "Unit price", "ru": "Цена за единицу"},
    "currency": {"en": "Currency", "ru": "Валюта"},
    "total_price": {"en": "Total price", "ru": "Общая стоимость"},
    "moq": {"en": "Minimum order quantity", "ru": "Минимальная партия"},
    "dimensions": {"en": "Dimensions (L x W x H, unit)", "ru": "Размеры (Д x Ш x В, ед.)"},
    "weight": {"en": "Weight (value, unit)", "ru": "Вес (значение, ед.)"},
    "lead_time_days": {"en": "Lead time (days)", "ru": "Срок поставки (дней)"},
    "valid_until": {
        "en": "Offer valid until (YYYY-MM-DD)", "ru": "Предложение действительно до (ГГГГ-ММ-ДД)",
    },
    "incoterms": {"en": "Delivery terms (Incoterms)", "ru": "Условия поставки (Incoterms)"},
    "payment_terms": {"en": "Payment terms", "ru": "Условия оплаты"},
}  # fmt: skip
# Kinds the annotation does not tell; fields scoring leaves out (detected, not extracted).
_KINDS: dict[str, Kind] = {"currency": "currency", "valid_until": "date"}
_UNSCORED = frozenset({"language"})
_TYPE_KINDS: dict[Any, Kind] = {
    float: "number", int: "integer", str: "text", bool: "boolean", Dimensions: "dimensions",
    Weight: "weight",
}  # fmt: skip


@dataclass(frozen=True)
class FieldSpec:
    """One field of the offer: its key, level (item or offer), kind and labels."""

    key: str
    level: Level
    kind: Kind
    # (language, label) pairs; ``label()`` falls back to English, then to the name.
    labels: tuple[tuple[str, str], ...] = ()
    scored: bool = True
    description: str = ""

    @property
    def name(self) -> str:
        """The name without the ``extra.`` prefix (``color`` for ``extra.color``)."""
        return self.key.removeprefix(EXTRA_PREFIX)

    @property
    def is_extra(self) -> bool:
        return self.key.startswith(EXTRA_PREFIX)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def label(self, language: str = "en") -> str:
        """The field's label in ``language`` (``Unit price``, ``Цена за единицу``)."""
        by_lang = dict(self.labels)
        return by_lang.get(language) or by_lang.get("en") or self.name.replace("_", " ")


def _kind(name: str, annotation: Any) -> Kind:
    if name in _KINDS:
        return _KINDS[name]
    args = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    kinds = [_TYPE_KINDS[a] for a in (args or (annotation,)) if a is not type(None)]
    if len(kinds) != 1:
        raise TypeError(f"contract field {name!r}: no kind for {annotation!r}")
    return kinds[0]


def _spec(name: str, level: Level, annotation: Any, prefix: str = "") -> FieldSpec:
    labels = tuple(sorted(_LABELS.get(name, {}).items()))
    return FieldSpec(prefix + name, level, _kind(name, annotation), labels, name not in _UNSCORED)


def _contract_fields() -> tuple[tuple[FieldSpec, ...], tuple[FieldSpec, ...]]:
    item = tuple(_spec(n, "item", f.annotation) for n, f in Item.model_fields.items() if n != EXTRA)
    offer: list[FieldSpec] = []
    for n, f in Offer.model_fields.items():
        if n == "supplier":
            offer += [
                _spec(s, "offer", g.annotation, "supplier.")
                for s, g in Supplier.model_fields.items()
            ]
        elif n not in ("items", EXTRA):
            offer.append(_spec(n, "offer", f.annotation))
    return item, tuple(offer)


# Every field of the contract, in the models' order.
ITEM_FIELDS, OFFER_FIELDS = _contract_fields()
ITEM_NAMES: tuple[str, ...] = tuple(f.key for f in ITEM_FIELDS)
# Item fields of one value (a column each in the store) and those of several parts.
ITEM_SCALARS: tuple[str, ...] = tuple(f.key for f in ITEM_FIELDS if f.kind not in COMPOUND_KINDS)
ITEM_COMPOUNDS: tuple[str, ...] = tuple(f.key for f in ITEM_FIELDS if f.kind in COMPOUND_KINDS)
NUMERIC_ITEM_FIELDS: tuple[str, ...] = tuple(f.key for f in ITEM_FIELDS if f.numeric)
# Offer-level values read from the mail and kept with provenance (not the supplier, whose name
# and address the sender fills, nor the detected language).
OFFER_VALUES: tuple[str, ...] = tuple(f.key for f in OFFER_FIELDS if f.scored and "." not in f.key)
SCORED_ITEM_FIELDS: tuple[str, ...] = tuple(f.key for f in ITEM_FIELDS if f.scored)
SCORED_OFFER_FIELDS: tuple[str, ...] = tuple(f.key for f in OFFER_FIELDS if f.scored)
_ALL = {f.key: f for f in (*ITEM_FIELDS, *OFFER_FIELDS)}


def contract_field(key: str) -> FieldSpec:
    """The contract field of ``key`` (``unit_price``, ``supplier.name``); ``KeyError`` else."""
    return _ALL[key]


def contract_names() -> frozenset[str]:
    """Every name the contract models use (no extra field may take one)."""
    return frozenset({*Item.model_fields, *Offer.model_fields, *Supplier.model_fields})


def form_labels(language: str) -> dict[str, str]:
    """Contract field key → its label in ``language`` for the fields the answer form asks."""
    return {f.key: f.label(language) for f in (*ITEM_FIELDS, *OFFER_FIELDS) if f.key in _LABELS}


@dataclass(frozen=True)
class ExtraField(FieldSpec):
    """A configured extra field (``[[extraction.fields]]``): ``kind`` is its type."""

    required: bool = False

    def coerce(self, value: Any) -> ExtraValue | None:
        """``value`` as this field's type (None for null or blank); ``ValueError`` when it is
        not one: text (at most ``MAX_EXTRA_TEXT`` characters), number, integer, boolean
        (``true``/``yes``/``да`` …) or an ISO date."""
        if isinstance(value, str):
            value = " ".join(value.split())
        if value is None or value == "":
            return None
        try:
            return COERCE[self.kind](value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"extra field {self.name!r} ({self.kind}): {exc}") from None

    def json_schema(self) -> dict[str, Any]:
        """The field's bounded JSON-schema fragment for the model's output (nullable, with the
        configured description)."""
        schemas: dict[str, dict[str, Any]] = {
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_EXTRA_TEXT},
            "number": {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER},
            "integer": {"type": "integer", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER},
            "boolean": {"type": "boolean"},
            "date": {"type": "string", "pattern": _DATE_PATTERN},
        }
        out: dict[str, Any] = {"anyOf": [schemas[self.kind], {"type": "null"}]}
        if self.description:
            out["description"] = self.description
        return out

    def prompt_line(self) -> str:
        """The field as the system prompt names it: ``color (text): the colour``."""
        kind = "YYYY-MM-DD" if self.kind == "date" else self.kind
        return f"{self.name} ({kind})" + (f": {self.description}" if self.description else "")


_DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def extra_fields(settings: Settings) -> list[ExtraField]:
    """The extra fields ``[[extraction.fields]]`` configures, in their order."""
    out = []
    for f in settings.extraction.fields:
        labels = {"en": f.label} if f.label else {}
        labels.update(f.labels)
        out.append(
            ExtraField(
                key=EXTRA_PREFIX + f.name, level=f.level, kind=f.type,
                labels=tuple(sorted(labels.items())), description=f.description,
                required=f.required,
            )
        )  # fmt: skip
    return out


def of_level(extra: Sequence[ExtraField], level: Level) -> list[ExtraField]:
    """The extra fields of one level (``item`` or ``offer``)."""
    return [f for f in extra if f.level == level]


class ExtraFieldSet:
    """The configured extra fields as the contract models check them (see ``contract_context``)."""

    def __init__(self, extra: Sequence[ExtraField]) -> None:
        self.fields = list(extra)

    def check_extra(self, level: str, values: Mapping[str, Any]) -> dict[str, ExtraValue]:
        """``values`` (name → value) typed and cleaned, nulls left out; ``ValueError`` for a
        name not configured at ``level`` or a value not of the field's type."""
        mine = {f.name: f for f in self.fields if f.level == level}
        if unknown := [n for n in values if n not in mine]:
            raise ValueError(f"no extra field {', '.join(map(repr, unknown))} for the {level}")
        out = {}
        for name, f in mine.items():
            if name in values and (v := f.coerce(values[name])) is not None:
                out[name] = v
        return out


def contract_context(extra: Sequence[ExtraField]) -> dict[str, Any]:
    """The validation context under which ``Item``/``Offer`` check ``extra`` against the
    configuration: ``Offer.model_validate(data, context=contract_context(fields))``."""
    return {EXTRA_CONTEXT: ExtraFieldSet(extra)}


def extra_schema(extra: Sequence[ExtraField], level: Level) -> dict[str, Any]:
    """The JSON schema of one level's ``extra`` object (every configured name required,
    nullable; nothing else allowed)."""
    props = {f.name: f.json_schema() for f in of_level(extra, level)}
    return {
        "type": "object", "properties": props, "required": list(props),
        "additionalProperties": False,
    }  # fmt: skip


def prompt_text(extra: Sequence[ExtraField]) -> str:
    """Sentences for the system prompt naming the extra fields per level ('' when none)."""
    parts = []
    levels: tuple[tuple[Level, str], ...] = (("item", "each item"), ("offer", "the offer"))
    for level, where in levels:
        mine = of_level(extra, level)
        if mine:
            parts.append(
                f"Also for {where}, in extra: " + "; ".join(f.prompt_line() for f in mine) + "."
            )
    return "\n".join(parts)


def get_value(record: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in an item or offer record (contract shape): ``record[key]``, or
    ``record["extra"][name]`` for ``extra.<name>``."""
    if key.startswith(EXTRA_PREFIX):
        extra = record.get(EXTRA)
        return extra.get(key[len(EXTRA_PREFIX) :]) if isinstance(extra, Mapping) else None
    return record.get(key)


def set_value(record: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` in a record (contract shape); a null extra value is removed."""
    if not key.startswith(EXTRA_PREFIX):
        record[key] = value
        return
    extra = dict(record.get(EXTRA) or {})
    name = key[len(EXTRA_PREFIX) :]
    if value is None:
        extra.pop(name, None)
    else:
        extra[name] = value
    record[EXTRA] = extra


def extra_keys(record: Mapping[str, Any]) -> list[str]:
    """The keys (``extra.<name>``) of the extra values a record holds."""
    extra = record.get(EXTRA)
    return [EXTRA_PREFIX + n for n in extra] if isinstance(extra, Mapping) else []


def item_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item's values by key: the contract fields in order, then its extra values."""
    out = {k: item.get(k) for k in ITEM_NAMES}
    out.update((k, get_value(item, k)) for k in extra_keys(item))
    return out


def split_extra(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values as a request gives them, ``extra.<name>`` keys or an ``extra`` object alike →
    (the other values, extra name → value). ``ValueError`` when ``extra`` is not an object."""
    rest: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for k, v in values.items():
        if k == EXTRA:
            if not isinstance(v, Mapping):
                raise ValueError("extra: an object of field values is expected")
            extra.update(v)
        elif k.startswith(EXTRA_PREFIX):
            extra[k[len(EXTRA_PREFIX) :]] = v
        else:
            rest[k] = v
    return rest, extra
