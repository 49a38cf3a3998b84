"""Parts of a synthetic supplier mail: supplier, buyer, items, offer terms, distractors,
sign-off and the quoted request of a reply (used by ``finetune.synth_compose``)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from finetune import synth_data as data
from finetune.synth_phrases import INCOTERMS_BUYER, INCOTERMS_SELLER, PAYMENT_TERMS
from finetune.synth_render import RATES, Block, Ctx, ItemText, fill_pattern, make_item
from finetune.synth_text import fmt_date, fmt_lead

# Probability that an item states each optional field.
ITEM_FIELDS = {"sku": 0.6, "brand": 0.5, "qty": 0.75, "price": 0.88, "total": 0.35,
               "moq": 0.3, "dims": 0.65, "weight": 0.5, "lead": 0.3}  # fmt: skip


def can(text: str, charset: str) -> bool:
    """Whether ``charset`` can encode ``text``."""
    try:
        text.encode(charset)
        return True
    except UnicodeEncodeError:
        return False


def ascii_name(s: str) -> str:
    """A name as the local part of an e-mail address (lower case, ASCII letters and digits)."""
    s = s.lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace(" ", "")
    return "".join(c for c in s if c.isascii() and c.isalnum())


def supplier(rng: random.Random, lang: str, domain: str, enc: str) -> dict[str, str]:
    """A supplier: company (as the label names it), host, e-mail, person, title, city, address,
    phone."""
    if lang == "en":
        prefix, trade = rng.choice(data.EN_PREFIX), rng.choice(data.EN_TRADE[domain])
        company = f"{prefix} {trade} {rng.choice(data.EN_FORMS)}"
        slug = ascii_name(prefix) + rng.choice(("", "-")) + ascii_name(trade.split()[0])
        first, last = rng.choice(data.EN_FIRST), rng.choice(data.EN_LAST)
        local = rng.choice(
            (
                f"{first[0]}.{ascii_name(last)}",
                ascii_name(first),
                "sales",
                "quotes",
                "info",
                "office",
            )
        )
        city, street, country, phone = rng.choice(data.PLACES_EN)
        addr, patr, title = f"{street}, {country}", "", rng.choice(data.TITLES_EN)
    else:
        name, slug = rng.choice(data.RU_NAMES[domain])
        form = rng.choice(data.RU_FORMS)
        quote = rng.choice(("«»", '""', "")) if "«" in enc else rng.choice(('""', ""))
        company = f"{form} {quote[:1]}{name}{quote[1:]}"
        first, patr, last = rng.choice(data.RU_PEOPLE)
        local = rng.choice(
            (
                f"{data.translit(first)[0]}.{data.translit(last)}",
                data.translit(last),
                "sales",
                "opt",
                "zakaz",
                "info",
            )
        )
        city, addr, phone = rng.choice(data.PLACES_RU)
        title = rng.choice(data.TITLES_RU)
    host = slug + rng.choice((".example", ".example.com", "-group.example"))
    return {
        "company": company,
        "host": host,
        "email": f"{local}@{host}".lower(),
        "first": first,
        "patr": patr,
        "person": f"{first} {last}",
        "title": title,
        "city": city,
        "address": addr,
        "phone": fill_pattern(phone, rng),
    }


def buyer(rng: random.Random, lang: str) -> dict[str, str]:
    """The buyer the offer is addressed to: company, e-mail, person, city."""
    if lang == "en":
        company, host = rng.choice(data.BUYERS_EN)
        first, last, patr = rng.choice(data.EN_FIRST), rng.choice(data.EN_LAST), ""
        local = f"{ascii_name(first)}.{ascii_name(last)}"
        city = rng.choice(data.BUYER_CITIES_EN)
    else:
        company, host = rng.choice(data.BUYERS_RU)
        first, patr, last = rng.choice(data.RU_PEOPLE)
        local = f"{data.translit(first)[0]}.{data.translit(last)}"
        city = rng.choice(data.BUYER_CITIES_RU)
    return {
        "company": company,
        "email": f"{local}@{host}",
        "first": first,
        "last": last,
        "patr": patr,
        "person": f"{first} {last}",
        "city": city,
    }


def other_company(rng: random.Random, lang: str, domain: str, company: str) -> str:
    """A competitor's name, never the supplier's."""
    while True:
        if lang == "en":
            core = rng.choice(data.EN_PREFIX)
            other = f"{core} {rng.choice(data.EN_TRADE[domain])} {rng.choice(data.EN_FORMS)}"
        else:
            core = rng.choice(data.RU_NAMES[domain])[0]
            other = f"{rng.choice(data.RU_FORMS)} {core}"
        if core not in company:
            return other


def draw_items(ctx: Ctx, products: list[data.P], lead_global: bool) -> list[ItemText]:
    """The offered items, each stating a random subset of the optional fields (no price at
    all in a few mails; no per-item lead time when one is stated for all)."""
    rng = ctx.rng
    no_price = rng.random() < 0.07
    items = []
    for p in products:
        fields = {f for f, share in ITEM_FIELDS.items() if rng.random() < share}
        if no_price:
            fields.discard("price")
        if lead_global:
            fields.discard("lead")
        items.append(make_item(ctx, p, fields))
    return items


def distractors(
    ctx: Ctx, s: dict[str, str], b: dict[str, str], items: list[ItemText], other: str, when: dt.date
) -> tuple[list[str], list[str]]:
    """(sentences, names) of statements whose numbers and names are not the offer's."""
    rng, lang, ru = ctx.rng, ctx.lang, ctx.lang == "ru"
    shares = {
        "shipping": 0.25,
        "vat": 0.3,
        "discount": 0.15,
        "reference": 0.3,
        "competitor": 0.1,
        "carrier": 0.15,
        "dates": 0.1,
        "phone": 0.2,
        "old_price": 0.06,
    }
    out, names = [], []
    for name, share in shares.items():
        if rng.random() >= share:
            continue
        unit = items[0].extra["many"]
        priced = next((it for it in items if it.label["unit_price"] is not None), None)
        if name == "old_price" and priced is None:
            continue
        old = priced.label["unit_price"] * rng.choice((1.05, 1.1, 1.2)) if priced else 0
        d1 = when + dt.timedelta(days=rng.randint(20, 40))
        fields = {
            "m": ctx.money(round(rng.choice((25, 35, 45, 60, 85, 120)) * RATES[ctx.currency])),
            "p": rng.choice(
                (2, 3, 5, 7, 10) if name == "discount" else (20, 22) if ru else (19, 20, 21, 23, 25)
            ),
            "q": f"{ctx.number(rng.choice((1000, 2000, 5000, 10000)))} {unit}",
            "ref": fill_pattern(
                rng.choice(("Q-2026-####", "QT#####", "КП-###/26" if ru else "SO-######")), rng
            ),
            "other": other
            if name == "competitor"
            else rng.choice(data.CARRIERS_RU if ru else data.CARRIERS_EN),
            "city": s["city"],
            "d1": fmt_date(d1, lang, rng),
            "d2": fmt_date(d1 + dt.timedelta(days=rng.randint(3, 12)), lang, rng),
            "phone": s["phone"],
        }
        if name == "old_price":
            fields["m"] = ctx.money(round(old, 2), 2)
        out.append(ctx.pick(name).format(**fields))
        names.append(name)
    rng.shuffle(out)
    return out, names


def offer_terms(
    ctx: Ctx, s: dict[str, str], b: dict[str, str], when: dt.date, lead: tuple[int, str, int] | None
) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The offer-level label fields and, per stated term, (kv key, kv value, sentence)."""
    rng, lang = ctx.rng, ctx.lang
    label: dict[str, Any] = {"valid_until": None, "incoterms": None, "payment_terms": None}
    terms = []
    if lead is not None:
        text, gen = (
            fmt_lead(lead[1], lead[2], lang),
            fmt_lead(lead[1], lead[2], lang, genitive=True),
        )
        terms.append(("k_lead", text, ctx.pick("lead").format(lead=text, lead_gen=gen)))
    if rng.random() < 0.7:
        valid = when + dt.timedelta(days=rng.choice((7, 10, 14, 14, 21, 30, 30, 45, 60)))
        label["valid_until"] = valid.isoformat()
        shown = fmt_date(valid, lang, rng)
        terms.append(("k_valid", shown, ctx.pick("valid").format(valid=shown)))
    r = rng.random()
    if r < 0.5:
        code = rng.choice(INCOTERMS_SELLER + INCOTERMS_BUYER)
        if code in ("FOB", "CIF") and lang == "en":
            place = rng.choice(data.PORTS_EN)
        else:
            place = s["city"] if code in INCOTERMS_SELLER else b["city"]
        label["incoterms"] = f"{code} {place}"
        terms.append(("k_inc", label["incoterms"], ctx.pick("inc").format(inc=label["incoterms"])))
    elif r < 0.6:
        terms.append(("", "", ctx.pick("inc_none")))
    if rng.random() < 0.6:
        label["payment_terms"] = rng.choice(PAYMENT_TERMS[lang])
        pay = label["payment_terms"]
        terms.append(("k_pay", pay, ctx.pick("pay").format(pay=pay)))
    rng.shuffle(terms)
    return label, terms


def signoff(ctx: Ctx, s: dict[str, str], company_at: str) -> tuple[list[Block], list[str]]:
    """The sign-off (with the company when ``company_at`` is "signoff"), then contacts or a
    "-- " signature; the distractor names it adds."""
    rng = ctx.rng
    lines = [ctx.pick("signoff"), s["person"]]
    if rng.random() < 0.5:
        lines.append(s["title"])
    if company_at == "signoff":
        lines.append(s["company"])
    contacts = [
        ctx.pick("phone_label") + s["phone"],
        ctx.pick("address_label") + s["address"],
        ctx.pick("website").format(domain=s["host"]),
    ]
    blocks: list[Block] = []
    names = []
    if rng.random() < 0.5:  # a "-- " signature: stripped by the preprocessor
        sig = [s["person"], s["company"], *contacts[: rng.randint(1, 3)]]
        blocks = [("p", lines), ("sig", sig)]
        names.append("signature")
    else:
        k = rng.randint(0, 3)
        blocks = [("p", lines + contacts[:k])]
        if k:
            names.append("signoff_contacts")
    return blocks, names


def reply_tail(
    ctx: Ctx, b: dict[str, str], s: dict[str, str], items: list[ItemText], when: dt.datetime
) -> tuple[list[Block], str]:
    """The quoted request below a reply (">" lines, or an Outlook header block with the older
    text unquoted) and the subject of that request."""
    rng, ru = ctx.rng, ctx.lang == "ru"
    first = items[0]
    old = (first.label["unit_price"] or rng.uniform(1, 50) * RATES[ctx.currency]) * 0.93
    qty = first.qty or f"{ctx.number(rng.choice((100, 500, 1000)))} {first.extra['many']}"
    req = ctx.pick("request").format(product=first.name, qty=qty, old=ctx.money(round(old, 2), 2))
    asked = when - dt.timedelta(days=rng.randint(1, 6), hours=rng.randint(1, 5))
    body = [
        ("Добрый день!" if ru else "Hello,"),
        "",
        req,
        "",
        ("С уважением," if ru else "Regards,"),
        b["person"],
        b["company"],
    ]
    subject = f"Запрос цены: {first.name}" if ru else f"Request for quotation: {first.name}"
    if rng.random() < 0.3:  # Outlook: header block, older text not quoted
        head = (
            [
                "-----Исходное сообщение-----",
                f"От: {b['person']} <{b['email']}>",
                f"Отправлено: {asked:%d.%m.%Y %H:%M}",
                f"Кому: {s['email']}",
                f"Тема: {subject}",
            ]
            if ru
            else [
                "-----Original Message-----",
                f"From: {b['person']} [mailto:{b['email']}]",
                f"Sent: {asked:%A, %B %d, %Y %I:%M %p}",
                f"To: {s['email']}",
                f"Subject: {subject}",
            ]
        )
        return [("raw", "\n".join([*head, "", *body]))], subject
    date_ref = f"{asked:%d.%m.%Y}" if ru else f"{asked:%a, %d %b %Y}"
    attr = ctx.pick("attribution").format(
        date_ref=date_ref, buyer_full=b["person"], buyer_email=b["email"], mm=f"{asked.minute:02d}"
    )
    return [("p", [attr]), ("quote", body)], subject
