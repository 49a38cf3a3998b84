"""What a mail states once, applied outside the model: facts shared by all its items (one
lead time, one currency; in a one-item offer its only price, quantity, MOQ, dimensions,
weight, code and brand), the offer's terms, and extra fields on labelled lines.
"""

from __future__ import annotations

import re
from typing import Any

from appliance.extract import layout
from appliance.extract.choice import typed_value
from appliance.extract.fields import ExtraField
from appliance.extract.grounding import product_weight, single_currency, sized, title_brands
from appliance.extract.readers import read
from appliance.extract.readers.numbers import NUMBER_RE, parse_number
from appliance.extract.readers.types import Candidates, Code

_PAY_LABEL = re.compile(
    r"^(?:payment(?:\s+terms?)?|terms(?:\s+of\s+payment)?|условия\s+оплаты|оплата)\s*[:\-–]?\s+",
    re.IGNORECASE,
)


def _norm_label(s: str) -> str:
    return re.sub(r"[\W_]+", "", s.casefold())


def labelled_extra(text: str, extra: list[ExtraField]) -> dict[str, Any]:
    """Extra values a key-value line states under the field's name or one of its labels
    (``Colour: red`` for a field ``color`` labelled "Colour"), typed; name → value."""
    wanted: dict[str, ExtraField] = {}
    for field_ in extra:
        for label in (field_.name, *(lab for _, lab in field_.labels)):
            wanted.setdefault(_norm_label(label), field_)
    out: dict[str, Any] = {}
    for line in layout.lines(text):
        if line.kind != "kv" or (f := wanted.get(_norm_label(line.cells[0].text))) is None:
            continue
        raw = re.split(r"[.;]\s|,\s", line.cells[1].text.strip(), maxsplit=1)[0].strip(" .;,")
        if f.kind in ("number", "integer"):
            m = NUMBER_RE.search(raw)
            raw = m.group() if m else ""
            value: Any = parse_number(raw) if raw else None
        elif f.kind == "date":
            dates = read(line.cells[1].text).dates
            value = dates[0].iso if dates else None
        else:
            value = raw
        try:
            coerced = f.coerce(value)
        except ValueError:
            continue
        if coerced is not None:
            out.setdefault(f.name, coerced)
    return out


def _only(spans: list[Any]) -> Any:
    """The one distinct value among ``spans`` (by text), or None."""
    texts = {s.text.strip() for s in spans}
    return spans[0] if len(texts) == 1 else None


def share_facts(
    items: list[dict[str, Any]], cands: Candidates, subject: str = "", text: str = ""
) -> list[str]:
    """Fill what the mail states once for all its items; return the filled paths.

    Every item: the mail's only lead time, its only currency (for an item with a price).
    A one-item offer also: its only price, quantity, MOQ, dimensions, weight, labelled code
    and labelled brand;
    else the brand its subject's product title starts with when the item's name holds it; and
    a code the subject names is its code rather than a barcode from the text.
    """
    filled: list[str] = []

    def fill(i: int, fname: str, value: Any) -> None:
        if value is not None and items[i].get(fname) in (None, ""):
            items[i][fname] = value
            filled.append(f"items[{i}].{fname}")

    lead = _only(cands.lead_times)
    single = single_currency(cands)
    for i, item in enumerate(items):
        if item.get("quantity") == 1 and item.get("total_price") is not None:
            fill(i, "unit_price", item["total_price"])  # one piece: its total is its price
        if lead is not None:
            fill(i, "lead_time_days", lead.days)
        if "unit_price" in item or "total_price" in item:
            fill(i, "currency", single)
    if len(items) == 1:
        price = _only([m for m in cands.money if m.role == "price"])
        if (
            price is not None
            and items[0].get("unit_price") is None
            and price.value != items[0].get("total_price")  # the line total is no price
        ):
            fill(0, "unit_price", price.value)
            fill(0, "currency", price.currency)
            if price.per:
                fill(0, "unit", price.per)
        qty = _only([q for q in cands.quantities if q.role == "quantity"])
        if qty is not None and items[0].get("quantity") is None:
            fill(0, "quantity", qty.value)
            fill(0, "unit", qty.unit)
        moq = _only([q for q in cands.quantities if q.role == "moq"])
        if moq is not None:
            fill(0, "moq", moq.value)
        if (dims := _only([d for d in cands.dimensions if sized(d)])) is not None:
            fill(0, "dimensions", typed_value("d", dims))
        if (weight := _only([w for w in cands.weights if product_weight(w, text)])) is not None:
            fill(0, "weight", typed_value("w", weight))
        code = _only([c for c in cands.codes if isinstance(c, Code) and c.labelled])
        if code is not None:
            fill(0, "sku", code.text.strip())
        brand = _only([b for b in cands.brands if b.labelled])
        if brand is not None:
            fill(0, "brand", brand.text.strip())
        name = str(items[0].get("product_name") or "")
        for title_brand in title_brands(subject, text)[:1]:  # the likeliest
            if title_brand.text in name or title_brand.text in subject:
                fill(0, "brand", title_brand.text)
        in_subject = [c for c in cands.codes if c.text in subject]
        if len({c.text for c in in_subject}) == 1 and items[0].get("sku") != in_subject[0].text:
            items[0]["sku"] = in_subject[0].text
            filled.append("items[0].sku")
    return filled


def offer_terms(cands: Candidates) -> dict[str, Any]:
    """Offer-level terms the readers state: ``valid_until`` (a date the text calls the
    validity), ``incoterms`` (rule and place as written), ``payment_terms`` (as written)."""
    valid = next((d.iso for d in cands.dates if d.role == "valid_until"), None)
    inco = cands.incoterms[0].text.strip() if cands.incoterms else None
    pay = cands.payment_terms[0].text.strip() if cands.payment_terms else None
    if pay:  # the label is not the terms: "Payment 30 days net" states "30 days net"
        pay = _PAY_LABEL.sub("", pay).strip() or pay
    return {"valid_until": valid, "incoterms": inco, "payment_terms": pay}
