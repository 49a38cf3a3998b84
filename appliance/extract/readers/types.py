"""Typed candidates the deterministic readers find in a mail's text.

Every candidate carries the exact substring it was read from (``text``) and its character span
in the text the readers ran on (``start``, ``end``: ``text == source[start:end]``). The grounded
extraction offers the model only these strings to choose from and maps the chosen string back to
the typed value here, so a value the mail does not state cannot be produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MoneyRole = Literal["price", "total", "tax", "shipping", "discount", "other"]
QuantityRole = Literal["quantity", "moq", "stock", "other"]


@dataclass(frozen=True)
class Span:
    """Where a candidate stands in the source text."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Money(Span):
    """An amount of money: ``12.40 EUR``, ``$149.00``, ``85,50 руб.``, ``1 250,50 ₽``.

    ``currency`` is the ISO 4217 code when the amount carries one (symbol, code or word) or the
    mail states one currency for all its amounts; ``per`` is the unit it is priced per when the
    text says so (``per box`` → ``box``, ``за метр`` → ``метр``); ``role`` is what the words
    around it say it is (VAT, shipping, a total, a discount …), ``price`` when nothing says
    otherwise.
    """

    value: float = 0.0
    currency: str | None = None
    per: str | None = None
    role: MoneyRole = "price"


@dataclass(frozen=True)
class Quantity(Span):
    """A count with its unit: ``500 boxes``, ``20 pcs``, ``1000 м``; ``role`` says whether the
    text calls it a minimum order (``MOQ 2,000 pcs``, ``минимальная партия``), stock, …"""

    value: float = 0.0
    unit: str | None = None
    role: QuantityRole = "quantity"


@dataclass(frozen=True)
class Dimensions(Span):
    """One to three lengths with a unit: ``60x40x40 cm``, ``1200x600x2000 мм``, ``L 1.2 m``,
    ``14.4" Length x 10.25" Width 15" Height``; axes in the order the text gives them."""

    length: float | None = None
    width: float | None = None
    height: float | None = None
    unit: Literal["mm", "cm", "m", "in", "ft"] = "mm"


@dataclass(frozen=True)
class Weight(Span):
    """A weight: ``2.5 kg``, ``6 oz.``, ``вес 12 кг``."""

    value: float = 0.0
    unit: Literal["g", "kg", "t", "lb", "oz"] = "kg"


@dataclass(frozen=True)
class LeadTime(Span):
    """A delivery time in days: ``2 weeks`` → 14, ``10 working days`` → 10 (``working`` kept in
    ``working_days``), ``in stock`` → 0, ``5 дней`` → 5."""

    days: int = 0
    working_days: bool = False


@dataclass(frozen=True)
class DateValue(Span):
    """A calendar date as ISO ``YYYY-MM-DD``; ``role`` is ``valid_until`` when the words around
    it say the offer is valid until then (``valid until``, ``действительно до``)."""

    iso: str = ""
    role: Literal["valid_until", "other"] = "other"


@dataclass(frozen=True)
class Incoterm(Span):
    """An Incoterms rule with its place when stated: ``FCA Gothenburg``, ``EXW Москва``."""

    rule: str = ""
    place: str | None = None


@dataclass(frozen=True)
class PaymentTerms(Span):
    """A payment-terms phrase as stated: ``Payment 30 days net``, ``100% предоплата``."""


@dataclass(frozen=True)
class Code(Span):
    """An article number / SKU / part number: ``NF-3190``, ``T009201``, ``P/N 70C1XY0``;
    ``labelled`` when a label (``art.``, ``арт.``, ``SKU``, ``Item #``, ``P/N``) introduces it.
    ``text`` is the code itself, without its label."""

    labelled: bool = False


@dataclass(frozen=True)
class Brand(Span):
    """A brand or manufacturer name: ``brand NordFix``, ``by Redi-Tag``, ``производства
    Электрокабель``, ``Canon®``; ``text`` is the name alone; ``labelled`` when a phrase says it
    is the brand (rather than a capitalised word taken from a product title)."""

    labelled: bool = False


@dataclass
class Candidates:
    """Everything the readers found in one text, each list in text order."""

    money: list[Money] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)
    dimensions: list[Dimensions] = field(default_factory=list)
    weights: list[Weight] = field(default_factory=list)
    lead_times: list[LeadTime] = field(default_factory=list)
    dates: list[DateValue] = field(default_factory=list)
    incoterms: list[Incoterm] = field(default_factory=list)
    payment_terms: list[PaymentTerms] = field(default_factory=list)
    codes: list[Code] = field(default_factory=list)
    brands: list[Brand] = field(default_factory=list)
    # ISO codes of every currency the text names anywhere (symbols, codes, words), in order.
    currencies: list[str] = field(default_factory=list)
