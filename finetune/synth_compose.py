"""One synthetic supplier mail: draw the offer, write the body, wrap it in a thread and MIME.

Used by ``finetune.synth`` (which checks every draft against its label).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from finetune import synth_data as data
from finetune import synth_parts as parts
from finetune.synth_mail import address, assemble, header, text_part, to_html, to_plain
from finetune.synth_phrases import FORWARD_HEADERS, FORWARD_MARKERS, MAILERS
from finetune.synth_render import (
    Block,
    Ctx,
    ItemText,
    bullet_blocks,
    fill_pattern,
    kv_blocks,
    prose_blocks,
    table_block,
)
from finetune.synth_text import NUM_STYLES_EN, NUM_STYLES_RU, fmt_date, lead_time, money_forms

LAYOUTS = ("prose", "bullets", "keyvalue", "text_table", "html_table")
THREADS = ("none", "reply", "forward")
SYMBOLS = "$€£₽×«»—–№•"  # used only where the mail's charset can hold them


@dataclass
class Draft:
    """A composed mail before checking: bytes, label and what was drawn."""

    sample_id: str
    raw: bytes
    label: dict[str, Any]
    meta: dict[str, Any]


@dataclass
class _Mail:
    """Everything drawn for one mail, shared by the writing steps."""

    ctx: Ctx
    charset: str
    s: dict[str, str]
    b: dict[str, str]
    when: dt.datetime
    items: list[ItemText]
    layout: str
    thread: str
    company_at: str
    lead: tuple[int, str, int] | None  # (days, kind, count) when stated once for all items
    subject: str = ""
    from_name: str = ""


def _setup(rng: random.Random, lang: str, seed: int) -> tuple[_Mail, str, int]:
    """Draw language conventions, supplier, buyer, date and items: (mail, domain, n_items)."""
    ru = lang == "ru"
    cat = data.CATALOGUE_RU if ru else data.CATALOGUE_EN
    domain = rng.choice(sorted(cat))
    n_items = min(rng.choices((1, 2, 3, 4, 5), weights=(40, 20, 20, 10, 10))[0], len(cat[domain]))
    products = rng.sample(cat[domain], n_items)
    charset = rng.choices(("utf-8", "koi8-r", "windows-1251"), (60, 20, 20))[0] if ru else "utf-8"
    enc = "".join(c for c in SYMBOLS if parts.can(c, charset))
    if ru:
        currency = rng.choices(("RUB", "USD", "EUR"), (85, 8, 7))[0]
    else:
        currency = rng.choices(("USD", "EUR", "GBP"), (40, 45, 15))[0]
    style = rng.choice(NUM_STYLES_RU if ru else NUM_STYLES_EN)
    style = "en" if style == "eu" and currency != "EUR" else style
    ctx = Ctx(rng, lang, style, currency, rng.choice(money_forms(lang, currency, enc)), enc)
    ctx.pcs = rng.choice((("pc", "pcs"),) * 4 + (("piece", "pieces"), ("unit", "units")))
    ctx.declined = ru and rng.random() < 0.2
    s, b = parts.supplier(rng, lang, domain, enc), parts.buyer(rng, lang)
    tz = dt.timezone(dt.timedelta(hours=3 if ru else rng.choice((0, 1, 2, -5))))
    when = dt.datetime(2026, 1, 5, 0, 0, tzinfo=tz) + dt.timedelta(
        days=(seed * 37) % 300 + rng.randint(0, 60),
        hours=rng.randint(7, 18),
        minutes=rng.randint(0, 59),
        seconds=rng.randint(0, 59),
    )
    lead = lead_time(rng) if rng.random() < 0.45 else None
    items = parts.draw_items(ctx, products, lead is not None)
    for it in items:
        if lead is not None:
            it.label["lead_time_days"] = lead[0]
    layout = rng.choices(LAYOUTS, (22, 22, 18, 18, 20))[0]
    layout = "bullets" if layout == "prose" and n_items > 3 else layout
    thread = rng.choices(THREADS, (60, 25, 15))[0]
    company_at = rng.choices(("signoff", "intro", "from"), (65, 15, 20))[0]
    return _Mail(ctx, charset, s, b, when, items, layout, thread, company_at, lead), domain, n_items


def _body(m: _Mail, domain: str) -> tuple[list[Block], dict[str, Any], list[str]]:
    """The offer's own text as blocks; the offer-level label; the distractors used."""
    ctx, rng, s, b = m.ctx, m.ctx.rng, m.s, m.b
    lang, ru = ctx.lang, ctx.lang == "ru"
    terms_label, terms = parts.offer_terms(ctx, s, b, m.when.date(), m.lead)
    other = parts.other_company(rng, lang, domain, s["company"])
    distract, dnames = parts.distractors(ctx, s, b, m.items, other, m.when.date())
    inquiry = fill_pattern(rng.choice(("RFQ-####", "#####", "ЗК-####" if ru else "PR-######")), rng)
    fmt = {
        "buyer": b["first"],
        "buyer_last": b["last"],
        "buyer_patr": b["patr"],
        "company": s["company"],
        "person_first": s["first"],
        "inq": inquiry,
        "date_ref": fmt_date(m.when.date() - dt.timedelta(days=rng.randint(1, 9)), lang, rng),
    }
    blocks: list[Block] = [("p", [ctx.pick("greeting").format(**fmt)])]
    intro = ctx.pick("intro_company" if m.company_at == "intro" else "intro").format(**fmt)
    blocks.append(("p", [intro[:1].upper() + intro[1:]]))
    if m.layout == "prose":
        blocks += prose_blocks(ctx, m.items)
    elif m.layout == "bullets":
        blocks += bullet_blocks(ctx, m.items)
    elif m.layout == "keyvalue":
        blocks += kv_blocks(ctx, m.items)
    else:
        if rng.random() < 0.5 and not intro.endswith(":"):
            blocks.append(("p", [ctx.pick("table_intro")]))
        blocks.append(table_block(ctx, m.items))
    if m.layout == "keyvalue" and terms and all(k for k, _, _ in terms):
        blocks.append(("kv", [(ctx.pick(k), v) for k, v, _ in terms]))
    elif terms:
        blocks.append(("p", [" ".join(t for _, _, t in terms)]))
    if distract:
        at = len(blocks) - (1 if terms and rng.random() < 0.5 else 0)
        blocks.insert(at, ("p", [" ".join(distract)]))
    if rng.random() < 0.6:
        blocks.append(("p", [ctx.pick("closing")]))
    sign, snames = parts.signoff(ctx, s, m.company_at)
    m.subject = ctx.pick("subject").format(
        ref=fill_pattern("Q-2026-####", rng), product=m.items[0].name, **fmt
    )
    if m.company_at == "from":
        forms = (s["company"], f"{s['person']} | {s['company']}", f"{s['person']} ({s['company']})")
        m.from_name = rng.choice(forms)
    else:
        m.from_name = rng.choice((s["person"], s["person"], "", "Отдел продаж" if ru else "Sales"))
    return blocks + sign, terms_label, dnames + snames


def _thread(m: _Mail, blocks: list[Block]) -> tuple[list[Block], list[str], list[str]]:
    """Wrap the offer as a reply or a forward: (blocks, extra headers, distractors)."""
    ctx, rng, s, b = m.ctx, m.ctx.rng, m.s, m.b
    lang, ru = ctx.lang, ctx.lang == "ru"
    if m.thread == "reply":
        tail, req_subject = parts.reply_tail(ctx, b, s, m.items, m.when)
        m.subject = rng.choice(("Re: ", "RE: ", "Ответ: " if ru else "Re: ")) + req_subject
        ref = f"<{rng.getrandbits(48):x}@{b['email'].split('@')[1]}>"
        return blocks + tail, [f"In-Reply-To: {ref}", f"References: {ref}"], ["quoted_request"]
    if m.thread == "forward":
        sent = m.when - dt.timedelta(days=rng.randint(2, 9), hours=rng.randint(0, 5))
        fwd_head = rng.choice(FORWARD_HEADERS[lang]).format(
            name=s["person"],
            email=s["email"],
            subject=m.subject,
            to=parts.buyer(rng, lang)["email"],
            date=f"{sent:%d.%m.%Y, %H:%M}" if ru else format_datetime(sent),
        )
        top: list[Block] = [
            ("p", [ctx.pick("fwd_note").format(buyer=b["first"])]),
            ("p", [ctx.pick("signoff"), s["first"]]),
            ("raw", f"{rng.choice(FORWARD_MARKERS[lang])}\n{fwd_head}"),
        ]
        m.subject = rng.choice(("Fwd: ", "FW: ", "Пересл: " if ru else "Fwd: ")) + m.subject
        return top + blocks, [], ["forward_headers"]
    return blocks, [], []


def _encode(m: _Mail, blocks: list[Block], extra: list[str], index: int) -> tuple[bytes, str, str]:
    """The mail's bytes: body rendered as text, HTML or both, headers, MIME: (raw, mime, cte)."""
    ctx, rng, s, b = m.ctx, m.ctx.rng, m.s, m.b
    ru, charset = ctx.lang == "ru", m.charset
    mime = (
        "plain"
        if m.layout == "text_table"
        else rng.choices(("plain", "alt", "html"), (75, 15, 10))[0]
    )
    if m.layout == "html_table":
        mime = rng.choice(("html", "alt", "alt", "alt_stub"))
    bullet = rng.choice(("-", "*", "n", "n.") + (("•",) if "•" in ctx.encodable else ()))
    plain = to_plain(blocks, rng, wrap=m.layout == "prose" and rng.random() < 0.4, bullet=bullet)
    stub = ctx.pick("stub")
    if mime == "alt_stub" and len(plain) < 6 * len(stub) + 200:
        mime = "alt"  # too short an HTML part: the parser would keep the stub
    html = to_html(blocks, rng, charset) if mime != "plain" else ""
    subject = m.subject
    if charset != "utf-8":  # what KOI8-R writers type instead (never part of a label)
        for a, z in (("№", "N"), ("«", '"'), ("»", '"')):
            if not parts.can(a, charset):
                plain, html, subject = (t.replace(a, z) for t in (plain, html, subject))
    if not all(parts.can(t, charset) for t in (plain, html, subject, m.from_name, b["person"])):
        html = html.replace(f'charset="{charset}"', 'charset="utf-8"')
        charset = m.charset = "utf-8"  # a catalogue symbol the legacy charset lacks
    cte = rng.choices(("8bit", "quoted-printable", "base64"), (35, 25, 40) if ru else (40, 35, 25))[
        0
    ]
    bodies = {
        "plain": [("plain", plain)],
        "html": [("html", html)],
        "alt": [("plain", plain), ("html", html)],
        "alt_stub": [("plain", stub + "\n"), ("html", html)],
    }[mime]
    mailer = rng.choice(MAILERS)
    top = [
        "From: " + address(m.from_name, s["email"], charset),
        "To: " + address(b["person"] if rng.random() < 0.7 else "", b["email"], charset),
        header("Subject", subject, charset),
        "Date: " + format_datetime(m.when),
        f"Message-ID: <{rng.getrandbits(64):016x}.{index}@{s['host']}>",
        *extra,
        *([f"X-Mailer: {mailer}"] if mailer else []),
        *([f"Content-Language: {'ru-RU' if ru else 'en-US'}"] if rng.random() < 0.5 else []),
    ]
    body_parts = [text_part(t, k, charset, cte) for k, t in bodies]
    return assemble(top, body_parts, rng, crlf=rng.random() < 0.2), mime, cte


def compose(rng: random.Random, lang: str, *, sample_id: str, seed: int, index: int) -> Draft:
    """Draw one offer and write it as a complete mail with its label (unchecked)."""
    m, domain, n_items = _setup(rng, lang, seed)
    blocks, terms_label, dnames = _body(m, domain)
    blocks, extra, tnames = _thread(m, blocks)
    raw, mime, cte = _encode(m, blocks, extra, index)
    label = {
        "supplier": {"name": m.s["company"], "email": m.s["email"]},
        "items": [it.label for it in m.items],
        **terms_label,
        "language": lang,
    }
    missing = {k for it in m.items for k, v in it.label.items() if v is None}
    missing |= {k for k, v in terms_label.items() if v is None}
    meta = {
        "language": lang,
        "domain": domain,
        "layout": m.layout,
        "thread": m.thread,
        "mime": mime,
        "charset": m.charset,
        "cte": cte,
        "n_items": n_items,
        "company_at": m.company_at,
        "number_style": m.ctx.style,
        "currency_form": m.ctx.money_form,
        "distractors": sorted(set(dnames + tnames)),
        "missing": sorted(missing),
    }
    return Draft(sample_id=sample_id, raw=raw, label=label, meta=meta)
