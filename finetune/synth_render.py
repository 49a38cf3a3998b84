"""Items and body layouts of synthetic supplier mails (used by ``finetune.synth``).

``make_item`` draws one product line and returns its texts together with its label; the layout
functions turn items into blocks (paragraphs, bullet lists, key/value blocks, tables), which
``finetune.synth_mail`` renders as a text/plain or text/html body.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from finetune.synth_data import UNITS_EN, UNITS_RU, P
from finetune.synth_phrases import PHRASES
from finetune.synth_text import (
    dims_text,
    fmt_lead,
    fmt_num,
    lead_time,
    money,
    num,
    price_decimals,
    ru_plural,
    weight_text,
)

Block = tuple[str, Any]  # ("p", [lines]) | ("ul", [items]) | ("kv", [(k, v)]) | ("table", ...)
RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86, "RUB": 95.0}


@dataclass
class Ctx:
    """Per-mail choices shared by all items: language, number style, currency spelling."""

    rng: random.Random
    lang: str
    style: str
    currency: str
    money_form: str
    encodable: str
    pcs: tuple[str, str] = ("pc", "pcs")  # this mail's English words for pieces
    declined: bool = False  # Russian "500 штук" / "500 метров" instead of "шт." / "м"

    def pick(self, key: str) -> str:
        """A random phrase of this language."""
        return self.rng.choice(PHRASES[self.lang][key])

    def money(self, value: float, dec: int | None = None) -> str:
        """``value`` in the mail's currency spelling."""
        if dec is None:
            dec = price_decimals(value, self.currency, self.rng) if value < 1000 else 2
        form = self.money_form
        if form == "rub_word" and not float(value).is_integer():
            form = "rub_abbr"
        return money(value, dec, self.style, self.currency, form)

    def number(self, value: float) -> str:
        """A quantity (integral) in the mail's number style, grouped from 1000 on (mostly)."""
        if value >= 1000 and self.rng.random() < 0.2:
            return str(int(value))
        return fmt_num(value, 0, self.style)


@dataclass
class ItemText:
    """One offered product: its label and the texts the layouts use."""

    label: dict[str, Any]
    name: str
    full: str  # name with sku / brand as prose and bullets write it
    sku: str | None = None
    brand: str | None = None
    qty: str | None = None  # "500 pcs"
    qty_bare: str | None = None  # "500"
    unit_word: str | None = None
    price: str | None = None  # "4.20 EUR"
    price_full: str | None = None  # "4.20 EUR per pc"
    price_bare: str | None = None  # "4.20"
    u1: str = ""
    total: str | None = None
    total_bare: str | None = None
    moq: str | None = None
    dims: str | None = None
    weight: str | None = None
    lead: str | None = None
    lead_gen: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def expand(template: str, rng: random.Random) -> str:
    """Replace each ``{a|b|c}`` of a catalogue name by one of its choices."""
    return re.sub(r"\{([^{}]*)\}", lambda m: rng.choice(m.group(1).split("|")), template)


def fill_pattern(pattern: str, rng: random.Random) -> str:
    """An SKU from a pattern: ``#`` a digit, ``@`` a capital letter."""
    out = []
    for c in pattern:
        if c == "#":
            out.append(str(rng.randrange(10)))
        elif c == "@":
            out.append(chr(ord("A") + rng.randrange(26)))
        else:
            out.append(c)
    return "".join(out)


def _nice(lo: int, hi: int, rng: random.Random) -> int:
    x = rng.randint(lo, hi)
    step = next((s for s in (1000, 500, 100, 50, 10, 5) if x >= 4 * s), 1)
    return max(lo, int(round(x / step) * step))


def _units(ctx: Ctx, key: str) -> tuple[str, Any]:
    """(u1, word): the unit after "per"/"за" and a function giving the word written after a
    quantity (Russian full words agree with the number)."""
    u1, un = (UNITS_EN if ctx.lang == "en" else UNITS_RU)[key]
    if ctx.lang == "en" and key == "pcs":
        u1, un = ctx.pcs
    if ctx.lang == "ru" and ctx.declined and key in ("pcs", "m"):
        forms = ("штука", "штуки", "штук") if key == "pcs" else ("метр", "метра", "метров")
        return u1, lambda n: ru_plural(n, forms)
    return u1, lambda n: un


def make_item(ctx: Ctx, product: P, fields: set[str]) -> ItemText:
    """Draw one product line with the optional ``fields`` present (sku, brand, qty, price,
    total, moq, dims, weight, lead). A lead time stated once for all items is the caller's."""
    rng, lang = ctx.rng, ctx.lang
    name = " ".join(expand(product.name, rng).split())
    brands = [b for b in product.brands.split("|") if b]
    brand = rng.choice(brands) if brands and "brand" in fields else None
    sku = fill_pattern(product.sku, rng) if product.sku and "sku" in fields else None
    qty = _nice(*product.qty, rng) if "qty" in fields else None
    u1, word = _units(ctx, product.unit)
    it = ItemText(label={}, name=name, full=name, sku=sku, brand=brand, u1=u1)
    it.extra["many"] = word(1000)  # the unit word after a large number (distractors)
    label_name = name
    if brand is not None:
        form = ctx.pick("brand")
        if form.startswith("{brand}") and len(brand) + len(name) < 80:
            label_name = f"{brand} {name}"
            it.full = label_name
        elif not form.startswith("{brand}"):
            it.full = form.format(name=name, brand=brand)
    if sku is not None:
        it.full = ctx.pick("sku").format(name=it.full, sku=sku)
    it.name = label_name
    unit = None
    if qty is not None:
        it.qty_bare = ctx.number(qty)
        unit = it.unit_word = word(qty)
        it.qty = f"{it.qty_bare} {unit}"
    price = total = None
    if "price" in fields:
        base = rng.uniform(*product.price) * RATES[ctx.currency]
        dec = price_decimals(base, ctx.currency, rng)
        price = round(base, dec)
        if dec == 2 and rng.random() < 0.4:
            price = round(round(price * 20) / 20, 2)
        price = max(price, 10.0**-dec)
        it.price = ctx.money(price, dec)
        it.price_bare = fmt_num(price, dec, ctx.style)
        per = rng.choice((" per {u}", "/{u}")) if lang == "en" else rng.choice((" за {u}", "/{u}"))
        per = " за {u}" if ctx.money_form == "rub_word" else per  # not "120 рублей/шт."
        it.price_full = it.price + per.format(u=u1)
        if unit is None:
            unit = u1
        if qty is not None and "total" in fields:
            total = round(qty * price, 2)
            it.total = ctx.money(total, 2)
            it.total_bare = fmt_num(total, 2, ctx.style)
    moq = None
    if "moq" in fields:
        hi = qty if qty is not None else product.qty[1]
        moq = _nice(max(1, product.qty[0] // 2), max(1, hi // 2), rng)
        bare = rng.random() < 0.25
        it.moq = ctx.number(moq) if bare else f"{ctx.number(moq)} {word(moq)}"
        if unit is None and not bare:
            unit = word(moq)
    dims = weight = None
    if "dims" in fields and product.dims:
        spec = rng.choice(product.dims.split("|"))
        parts = [float(x) if x else None for x in spec.replace("-", "x").split("x")]
        mm = [*parts, None, None][:3]
        it.dims, dims, it.extra["dims_pre"] = dims_text(
            (mm[0], mm[1], mm[2]), lang, ctx.style, rng, ctx.encodable
        )
    if "weight" in fields and product.weight:
        span, wunit = product.weight.split()
        wlo, whi = (float(x) for x in span.split("-"))
        it.weight, weight = weight_text(wlo, whi, wunit, lang, ctx.style, rng)
    lead_days = None
    if "lead" in fields:
        lead_days, kind, n = lead_time(rng)
        it.lead, it.lead_gen = fmt_lead(kind, n, lang), fmt_lead(kind, n, lang, genitive=True)
    it.label = {
        "product_name": label_name,
        "sku": sku,
        "brand": brand,
        "quantity": qty,
        "unit": unit,
        "unit_price": None if price is None else num(price),
        "currency": ctx.currency if price is not None else None,
        "total_price": None if total is None else num(total),
        "moq": moq,
        "dimensions": dims,
        "weight": weight,
        "lead_time_days": lead_days,
    }
    return it


# ------------------------------------------------------------------------------ layouts


def _sentence(s: str) -> str:
    s = s.strip()
    return s[:1].upper() + s[1:] + ("" if s.endswith((".", "!", "?")) else ".")


def prose_blocks(ctx: Ctx, items: list[ItemText]) -> list[Block]:
    """One paragraph per item: a main sentence, then MOQ, size, weight, lead time."""
    blocks: list[Block] = []
    for it in items:
        total = ctx.pick("total").format(t=it.total) if it.total else ""
        kw = {"name": it.full, "qty": it.qty, "price": it.price, "u1": it.u1, "total": total}
        key = "item_qp" if it.qty and it.price else "item_p" if it.price else "item_q"
        key = key if it.qty or it.price else "item_n"
        parts = [_sentence(ctx.pick(key).format(**kw))]
        if it.moq:
            parts.append(_sentence(ctx.pick("moq").format(moq=it.moq)))
        if it.dims:
            parts.append(ctx.pick("dims").format(d=it.dims))
        if it.weight:
            parts.append(ctx.pick("weight").format(w=it.weight, u1=it.u1))
        if it.lead:
            parts.append(ctx.pick("lead_item").format(lead=it.lead, lead_gen=it.lead_gen))
        blocks.append(("p", [" ".join(parts)]))
    return blocks


def _bullet_parts(ctx: Ctx, it: ItemText) -> list[str]:
    en = ctx.lang == "en"
    parts = []
    if it.price and it.price_full:
        parts.append(it.price_full if (not it.qty or ctx.rng.random() < 0.5) else it.price)
    if it.qty:
        parts.insert(ctx.rng.randrange(len(parts) + 1), ("qty " if en else "кол-во ") + it.qty)
    if it.total:
        parts.append(("total " if en else "сумма ") + it.total)
    if it.moq:
        parts.append(ctx.pick("moq").format(moq=it.moq))
    if it.dims:
        parts.append(it.extra["dims_pre"] + it.dims)
    if it.weight:
        parts.append(("weight " if en else "вес ") + it.weight)
    if it.lead:
        parts.append(("lead time " if en else "срок ") + it.lead)
    return parts


def bullet_blocks(ctx: Ctx, items: list[ItemText]) -> list[Block]:
    """A bullet list, one item per bullet, details joined by "; "."""
    lines = []
    sep = ctx.rng.choice((": ", " - ", " — " if "—" in ctx.encodable else " - "))
    for it in items:
        parts = _bullet_parts(ctx, it)
        lines.append(it.full + (sep + "; ".join(parts) if parts else ""))
    return [("ul", lines)]


def kv_blocks(ctx: Ctx, items: list[ItemText]) -> list[Block]:
    """ "Key: value" lines per item (name, code, brand, quantity, price, ...)."""
    blocks: list[Block] = []
    keys = {k: ctx.pick(k) for k in PHRASES[ctx.lang] if k.startswith("k_")}
    words = ("Item", "Line", "Position") if ctx.lang == "en" else ("Позиция", "Товар", "Строка")
    heading = ctx.rng.choice([w for w in words if w != keys["k_name"]])
    numbered = len(items) > 1 and ctx.rng.random() < 0.5
    for i, it in enumerate(items):
        rows = [(keys["k_name"], it.name)]
        if it.sku:
            rows.append((keys["k_sku"], it.sku))
        if it.brand and _brand_apart(it):
            rows.append((keys["k_brand"], it.brand))
        if it.qty:
            rows.append((keys["k_qty"], it.qty))
        if it.price and it.price_full:
            rows.append((keys["k_price"], it.price_full if not it.qty else it.price))
        if it.total:
            rows.append((keys["k_total"], it.total))
        for key, val in (
            ("k_moq", it.moq),
            ("k_dims", it.dims),
            ("k_weight", it.weight),
            ("k_lead", it.lead),
        ):
            if val:
                rows.append((keys[key], val))
        if numbered:
            blocks.append(("p", [f"{heading} {i + 1}:"]))
        blocks.append(("kv", rows))
    return blocks


def _brand_apart(it: ItemText) -> bool:
    """The item has a brand that its name does not already start with."""
    return it.brand is not None and not it.name.startswith(it.brand)


def table_block(ctx: Ctx, items: list[ItemText]) -> Block:
    """A table of the items; numbers bare under a header naming unit or currency where all
    items share it."""
    en, rng = ctx.lang == "en", ctx.rng
    all_qty = all(it.qty for it in items)
    bare_qty = all_qty and len({it.unit_word for it in items}) == 1 and rng.random() < 0.5
    bare_price = all_qty and rng.random() < 0.5
    cols: list[tuple[str, Any]] = []
    name_col = (ctx.pick("k_name"), lambda i, it: it.name)
    if rng.random() < 0.6:
        cols.append((ctx.pick("pos"), lambda i, it: str(i + 1)))
    cols.append(name_col)
    if any(it.sku for it in items):
        cols.append((ctx.pick("k_sku"), lambda i, it: it.sku))
    if any(_brand_apart(it) for it in items):
        cols.append((ctx.pick("k_brand"), lambda i, it: it.brand if _brand_apart(it) else None))
    q, pr, tot = ctx.pick("k_qty"), ctx.pick("k_price"), ctx.pick("k_total")
    if any(it.qty for it in items):
        head = f"{q}, {items[0].unit_word}" if bare_qty else q
        cols.append((head, lambda i, it: it.qty_bare if bare_qty else it.qty))
    if any(it.price for it in items):
        head = f"{pr}, {ctx.currency}" if bare_price else pr
        cols.append(
            (
                head,
                lambda i, it: (
                    it.price_bare if bare_price else (it.price if it.qty else it.price_full)
                ),
            )
        )
    if any(it.total for it in items):
        head = f"{tot}, {ctx.currency}" if bare_price else tot
        cols.append((head, lambda i, it: it.total_bare if bare_price else it.total))
    for key, attr in (
        ("k_moq", "moq"),
        ("k_dims", "dims"),
        ("k_weight", "weight"),
        ("k_lead", "lead"),
    ):
        if any(getattr(it, attr) for it in items):
            cols.append((ctx.pick(key), lambda i, it, a=attr: getattr(it, a)))
    empty = rng.choice(("-", "", "n/a" if en else "нет"))
    rows = [[f(i, it) or empty for _, f in cols] for i, it in enumerate(items)]
    if cols[0] is not name_col and any(r[-1][-1:].isdigit() for r in rows[:-1]):
        # "… | 2 100,00" then "2 | …": the line break would join the two numbers into one.
        cols, rows = cols[1:], [r[1:] for r in rows]
    return ("table", ([h for h, _ in cols], rows))
