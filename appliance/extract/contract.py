"""The extraction contract (DESIGN.md): typed models, the bounded JSON schema sent to vLLM, and
the normalisation + sanity checks applied to what the model returns.

The schema given to the model is stricter than the contract (enums for currencies and units,
bounded strings and arrays, no free whitespace) so that a small model cannot wander; the
pydantic models validate the result again before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from appliance.errors import ExtractionInvalid

# ISO 4217 codes the appliance accepts (the common trading currencies).
CURRENCIES: tuple[str, ...] = (
    "USD", "EUR", "RUB", "GBP", "CNY", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK",
    "PLN", "CZK", "HUF", "RON", "BGN", "TRY", "UAH", "BYN", "KZT", "UZS", "GEL", "AMD", "AZN",
    "INR", "KRW", "SGD", "HKD", "TWD", "THB", "VND", "IDR", "MYR", "PHP", "AED", "SAR", "ILS",
    "ZAR", "BRL", "MXN", "ARS", "CLP", "COP",
)  # fmt: skip
LENGTH_UNITS: tuple[str, ...] = ("mm", "cm", "m", "in", "ft")
WEIGHT_UNITS: tuple[str, ...] = ("g", "kg", "t", "lb", "oz")

# Free-text symbols and words mapped to ISO codes (the model may also copy them into `unit`).
CURRENCY_ALIASES: dict[str, str] = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "долл": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "евро": "EUR",
    "£": "GBP", "gbp": "GBP", "¥": "CNY", "rmb": "CNY", "yuan": "CNY",
    "₽": "RUB", "руб": "RUB", "руб.": "RUB", "рубль": "RUB", "рублей": "RUB", "р.": "RUB",
    "rub": "RUB", "rur": "RUB", "₴": "UAH", "грн": "UAH", "₸": "KZT", "₹": "INR",
}  # fmt: skip
LENGTH_ALIASES: dict[str, str] = {
    "мм": "mm", "millimeter": "mm", "millimetre": "mm", "см": "cm", "centimeter": "cm",
    "centimetre": "cm", "м": "m", "meter": "m", "metre": "m", "inch": "in", "inches": "in",
    '"': "in", "дюйм": "in", "feet": "ft", "foot": "ft", "'": "ft",
}  # fmt: skip
WEIGHT_ALIASES: dict[str, str] = {
    "г": "g", "гр": "g", "gram": "g", "grams": "g", "кг": "kg", "kilogram": "kg", "kgs": "kg",
    "т": "t", "ton": "t", "tonne": "t", "lbs": "lb", "pound": "lb", "pounds": "lb", "ounce": "oz",
}  # fmt: skip

# Bounds of values (the model's output is bounded by the grounded schema: enums of the mail's
# strings, a bounded item count; see extract.grounding).
MAX_NAME = 80
MAX_SHORT = 32
MAX_TERMS = 60
MAX_NUMBER = 1e9
MAX_LEAD_DAYS = 730

# Extra fields (``[[extraction.fields]]``; ``extract.fields`` owns their configuration): a value
# is text, a number, a boolean or an ISO date, under an identifier-like name. Only stated values
# are kept: ``extra`` holds no nulls.
ExtraValue = bool | int | float | str
EXTRA_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Key of the validation context that carries the configured fields (an ``ExtraCheck``), e.g.
# ``Offer.model_validate(data, context=extract.fields.contract_context(fields))``.
EXTRA_CONTEXT = "extra_fields"


class ExtraCheck(Protocol):
    def check_extra(self, level: str, values: dict[str, Any]) -> dict[str, ExtraValue]: ...


def _check_extra(level: str, values: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """Extra values checked against the configured fields when the validation context carries
    them; without, only names and scalar values are checked. Nulls are left out."""
    check = info.context.get(EXTRA_CONTEXT) if isinstance(info.context, dict) else None
    if check is not None:
        return dict(check.check_extra(level, values))
    out: dict[str, Any] = {}
    for name, v in values.items():
        if not EXTRA_NAME_RE.fullmatch(name):
            raise ValueError(f"not an extra field name: {name!r}")
        if (v := _clean_str(v)) is not None:
            out[name] = v
    return out


class Supplier(BaseModel):
    name: str | None = None
    email: str | None = None


class Dimensions(BaseModel):
    length: float | None = Field(default=None, ge=0)
    width: float | None = Field(default=None, ge=0)
    height: float | None = Field(default=None, ge=0)
    unit: Literal["mm", "cm", "m", "in", "ft"]


class Weight(BaseModel):
    value: float = Field(ge=0)
    unit: Literal["g", "kg", "t", "lb", "oz"]


class Item(BaseModel):
    product_name: str = Field(min_length=1, max_length=MAX_NAME)
    sku: str | None = None
    brand: str | None = None
    quantity: float | None = Field(default=None, ge=0)
    unit: str | None = None
    unit_price: float | None = Field(default=None, ge=0)
    currency: str | None = None
    total_price: float | None = Field(default=None, ge=0)
    moq: float | None = Field(default=None, ge=0)
    dimensions: Dimensions | None = None
    weight: Weight | None = None
    lead_time_days: int | None = Field(default=None, ge=0, le=MAX_LEAD_DAYS)
    # Values of the configured extra item fields, name → value.
    extra: dict[str, ExtraValue | None] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _check_extra("item", v, info)

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, v: str | None) -> str | None:
        if v is not None and v not in CURRENCIES:
            raise ValueError(f"not an accepted ISO 4217 code: {v!r}")
        return v


class Offer(BaseModel):
    """One offer in the contract's shape (what `appliance extract` prints and the API returns)."""

    supplier: Supplier = Field(default_factory=Supplier)
    items: list[Item] = Field(default_factory=list)
    valid_until: str | None = None
    incoterms: str | None = None
    payment_terms: str | None = None
    language: str = "und"
    # Values of the configured extra offer-level fields, name → value.
    extra: dict[str, ExtraValue | None] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        return _check_extra("offer", v, info)

    @field_validator("valid_until")
    @classmethod
    def _iso_date(cls, v: str | None) -> str | None:
        if v is not None:
            dt.date.fromisoformat(v)
        return v

    @field_validator("language")
    @classmethod
    def _bcp47(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", v):
            raise ValueError(f"not a BCP 47 language tag: {v!r}")
        return v


def _clean_str(v: Any) -> Any:
    if isinstance(v, str):
        v = " ".join(v.split())
        return v or None
    return v


def normalise_currency(v: Any) -> str | None:
    """Map ``$``, ``руб.``, ``eur`` … to ISO 4217; unknown strings are returned upper-cased."""
    if v is None:
        return None
    s = str(v).strip()
    if not s:
        return None
    return CURRENCY_ALIASES.get(s.lower(), CURRENCY_ALIASES.get(s, s.upper()))


# English plurals of units as mails write them ("4 bottles", "500 boxes") → the unit itself.
_PLURAL_ES = re.compile(r"(?i)(?:box|inch|pouch|batch|bunch|case)es$")
_KEEP_S = {"pcs", "lbs", "kgs", "ths", "ds", "cs", "ps"}


def singular_unit(unit: str) -> str:
    """A unit in the singular: ``bottles`` → ``bottle``, ``boxes`` → ``box``, ``pieces`` →
    ``piece``; abbreviations (``pcs``), non-English units (``шт.``) and others unchanged."""
    u = unit.strip()
    low = u.lower()
    if not low.isascii() or not low.isalpha() or len(low) < 4 or low in _KEEP_S:
        return u
    if _PLURAL_ES.search(low):
        return u[:-2]
    if low.endswith("ies"):
        return u[:-3] + ("Y" if u[-1].isupper() else "y")
    if low.endswith("s") and not low.endswith("ss"):
        return u[:-1]
    return u


def _short_name(name: Any) -> Any:
    """A product name cut to ``MAX_NAME`` characters at a word end (a long line of a price list
    names its product in its first words)."""
    if not isinstance(name, str) or len(name) <= MAX_NAME:
        return name
    cut = name[: MAX_NAME + 1].rsplit(" ", 1)[0] if " " in name[:MAX_NAME] else name[:MAX_NAME]
    return cut[:MAX_NAME].rstrip(" ,;:-–(")


def _normalise_item(raw: dict[str, Any]) -> dict[str, Any]:
    item = {k: _clean_str(v) for k, v in raw.items()}
    item["product_name"] = _short_name(item.get("product_name"))
    item["currency"] = normalise_currency(item.get("currency"))
    unit = item.get("unit")
    if isinstance(unit, str):
        item["unit"] = unit = singular_unit(unit)
    if isinstance(unit, str) and unit.strip().lower() in CURRENCY_ALIASES and not item["currency"]:
        # The model put the currency symbol into `unit`.
        item["currency"] = CURRENCY_ALIASES[unit.strip().lower()]
        item["unit"] = None
    dims = item.get("dimensions")
    if isinstance(dims, dict):
        u = str(dims.get("unit", "")).strip().lower()
        dims["unit"] = LENGTH_ALIASES.get(u, u)
        if all(dims.get(k) is None for k in ("length", "width", "height")):
            item["dimensions"] = None
    w = item.get("weight")
    if isinstance(w, dict):
        u = str(w.get("unit", "")).strip().lower()
        w["unit"] = WEIGHT_ALIASES.get(u, u)
        if w.get("value") is None:
            item["weight"] = None
    return item


def _unique_items(items: list[Any]) -> tuple[list[dict[str, Any]], list[int]]:
    """The normalised items, identical ones once (a small model repeats items until the array
    bound), and for each the position of its first occurrence in ``items``."""
    unique: list[dict[str, Any]] = []
    origin: list[int] = []
    for pos, i in enumerate(items):
        if isinstance(i, dict) and (item := _normalise_item(i)) not in unique:
            unique.append(item)
            origin.append(pos)
    return unique, origin


def item_origins(raw: dict[str, Any]) -> list[int]:
    """For each item of ``normalise_offer(raw, ...)``, its position in the model's ``items``
    (to carry per-item facts such as confidence across the de-duplication)."""
    items = raw.get("items") if isinstance(raw, dict) else None
    return _unique_items(items)[1] if isinstance(items, list) else []


def normalise_offer(
    raw: dict[str, Any],
    *,
    language: str,
    sender: Supplier,
    context: dict[str, Any] | None = None,
) -> Offer:
    """Normalise the model's JSON and validate it against the contract.

    ``language`` is the one detected from the mail text; ``sender`` (the From header) fills the
    supplier's name and address where the model gave none: both are facts of the mail, not
    guesses. ``context``: the validation context of the configured extra fields
    (``extract.fields.contract_context``). Raises ``ExtractionInvalid`` with the reason when a
    sanity check fails.
    """
    if not isinstance(raw, dict):
        raise ExtractionInvalid("model output is not a JSON object")
    data = {k: _clean_str(v) for k, v in raw.items()}
    supplier = data.get("supplier") if isinstance(data.get("supplier"), dict) else {}
    supplier = {k: _clean_str(v) for k, v in (supplier or {}).items()}
    supplier["name"] = supplier.get("name") or sender.name
    supplier["email"] = supplier.get("email") or sender.email
    data["supplier"] = supplier
    items = data.get("items") or []
    if not isinstance(items, list):
        raise ExtractionInvalid("`items` is not a list")
    data["items"] = _unique_items(items)[0]
    data["language"] = language
    try:
        return Offer.model_validate(data, context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ExtractionInvalid(
            f"model output failed validation at {where}: {first['msg']}", detail=str(exc)
        ) from exc
