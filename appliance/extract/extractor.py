"""One mail in, one validated offer out: preprocess → readers → table rows or grounded model
choice per chunk → shared facts and offer terms → contract → evidence check."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from appliance.extract import choice, fields, grounding, stated
from appliance.extract.confidence import leaf_values, remap_items
from appliance.extract.contract import Offer, Supplier, item_origins, normalise_offer
from appliance.extract.evidence import Evidence, check_evidence, kept_items, unfound_values
from appliance.extract.llm_client import Completion, LLMClient
from appliance.extract.prompt import build_messages, extra_lines
from appliance.extract.readers import read
from appliance.extract.readers.types import Candidates
from appliance.extract.rows import kv_items, line_items, table_items
from appliance.extract.supplier import supplier_of
from appliance.preprocess import ParsedMail, parse_mail
from appliance.preprocess.quotes import is_forward_subject
from appliance.settings import Settings

# A mail longer than this many chunks of ``llm.max_input_chars`` is read only that far.
MAX_CHUNKS = 8


@dataclass(frozen=True)
class Extraction:
    offer: Offer
    mail: ParsedMail
    completion: Completion
    preprocess_ms: float
    # Values the model gave that the mail does not contain (set to null), e.g. "items[0].moq".
    dropped: list[str]
    # Leaf path of ``offer`` ("items[0].unit_price", "items[0].dimensions.length") → the
    # model's confidence in that value (``extract.confidence``), for its non-null values.
    confidence: dict[str, float] = field(default_factory=dict)
    # What the evidence check nulled, path → the model's value (``evidence.unfound_values``).
    unfound: dict[str, Any] = field(default_factory=dict)


def preprocess(raw: bytes, settings: Settings) -> ParsedMail:
    """Parse a raw mail with the configured limits (raises a PermanentError on bad input)."""
    p = settings.preprocess
    return parse_mail(
        raw, max_bytes=p.max_bytes, max_parts=p.max_parts, max_text_chars=p.max_text_chars,
        max_html_chars=p.max_html_chars, max_html_depth=p.max_html_depth,
    )  # fmt: skip


def readable(mail: ParsedMail) -> tuple[str, Candidates]:
    """The text to read and its candidates: the mail's own text, or its whole body when the
    own text states no price or quantity and the quoted or forwarded part does ("FYI" above a
    forwarded offer, "see below" above the quoted price list)."""
    cands = read(mail.text)
    if cands.money or cands.quantities or mail.body_text.strip() == mail.text.strip():
        return mail.text, cands
    whole = read(mail.body_text)
    if whole.money or whole.quantities:
        return mail.body_text, whole
    return mail.text, cands


def chunks(text: str, max_chars: int, limit: int = MAX_CHUNKS) -> list[str]:
    """``text`` split at line ends into pieces of at most ``max_chars`` (a longer line is cut),
    at most ``limit`` of them (the rest of a very long mail is not read)."""
    out: list[str] = []
    cur = ""
    for line in text.splitlines(keepends=True):
        while len(line) > max_chars:
            if cur:
                out.append(cur)
                cur = ""
            out.append(line[:max_chars])
            line = line[max_chars:]
        if len(cur) + len(line) > max_chars and cur:
            out.append(cur)
            cur = ""
        cur += line
    if cur.strip():
        out.append(cur)
    return out[:limit]


async def _read_chunk(
    mail: ParsedMail,
    chunk: str,
    first: bool,
    settings: Settings,
    client: LLMClient,
    model: str | None,
    extra: list[fields.ExtraField],
) -> tuple[choice.Decoded, Completion | None, dict[str, Any]]:
    """One model call over one chunk with its grounded schema (none when the chunk states no
    product fact); the decoded items, the call, and the offer-level extra values."""
    g = grounding.build(chunk, mail.subject if first else "", extra=extra)
    if not g.has_facts():
        return choice.Decoded(), None, {}
    messages = build_messages(mail, settings.llm.max_input_chars, chunk, extra_lines(extra))
    completion = await client.complete_json(messages, model, grounding.schema(g))
    decoded = choice.decode(completion.data, g)
    return decoded, completion, choice.offer_extra(completion.data, g)


def _merged(completions: list[Completion], model: str) -> Completion:
    """The mail's model calls as one Completion: the call itself when there was one; else the
    answers under ``chunks`` (confidences keyed ``chunks[k].…``) with the token counts summed;
    none (no model call was needed) gives an empty one."""
    if len(completions) == 1:
        return completions[0]
    confidence = {
        f"chunks[{k}].{path}": c for k, done in enumerate(completions)
        for path, c in done.confidence.items()
    }  # fmt: skip
    return Completion(
        data={"chunks": [c.data for c in completions]} if completions else {},
        model=completions[0].model if completions else model,
        prompt_tokens=sum(c.prompt_tokens for c in completions),
        completion_tokens=sum(c.completion_tokens for c in completions),
        cached_tokens=sum(c.cached_tokens for c in completions),
        elapsed_ms=max((c.elapsed_ms for c in completions), default=0.0),
        confidence=confidence,
    )


async def extract_offer(
    raw: bytes, settings: Settings, client: LLMClient, *, model: str | None = None
) -> Extraction:
    """Extract the offer of one raw mail; errors follow ``appliance.errors``.

    Readers find the typed candidates; a table with a recognised header gives its items row by
    row without the model; otherwise each chunk of the text goes to the model with a schema
    that lets it only choose among the chunk's candidates (``extract.grounding``). Offer terms
    come from the readers. ``model``: the served model or adapter name (default:
    ``settings.llm.served_model``).
    """
    start = time.perf_counter()
    mail = preprocess(raw, settings)
    text, cands = readable(mail)
    if text is not mail.text:
        mail = dataclasses.replace(mail, text=text)
    pre_ms = (time.perf_counter() - start) * 1000
    extra = fields.extra_fields(settings)
    currency = grounding.single_currency(cands)
    items = (
        table_items(mail.text, currency)
        or line_items(mail.text, cands)
        or kv_items(mail.text, cands, currency)
    )
    confidence: dict[str, float] = {}
    completions: list[Completion] = []
    extra_values: dict[str, Any] = {}
    if not items:
        pieces = chunks(mail.text, settings.llm.max_input_chars) or [""]
        results = await asyncio.gather(
            *(
                _read_chunk(mail, c, i == 0, settings, client, model, extra)
                for i, c in enumerate(pieces)
            )
        )
        for decoded, completion, offer_extra in results:
            if completion is not None:
                completions.append(completion)
                conf = choice.confidence_paths(completion.confidence, decoded, len(items))
                confidence.update(conf)
            items += decoded.items
            extra_values = {**offer_extra, **extra_values}
    stated.share_facts(items, cands, mail.subject, mail.text)
    labelled = stated.labelled_extra(mail.text, extra)
    for f in extra:  # "Colour: red" states the value outside the model
        if f.name in labelled:
            for target in items if f.level == "item" and len(items) == 1 else []:
                target.setdefault("extra", {}).setdefault(f.name, labelled[f.name])
            if f.level == "offer":
                extra_values.setdefault(f.name, labelled[f.name])
    sender = Supplier(name=mail.from_name, email=mail.from_addr)
    supplier = supplier_of(
        mail.text, mail.from_name, mail.from_addr, forward=is_forward_subject(mail.subject)
    )
    raw_offer = {
        "supplier": supplier.model_dump(), "items": items, **stated.offer_terms(cands),
        "extra": extra_values,
    }  # fmt: skip
    context = fields.contract_context(extra)
    offer = normalise_offer(raw_offer, language=mail.language, sender=sender, context=context)
    checked, dropped = check_evidence(
        offer, Evidence(mail.subject, f"{mail.from_name or ''} <{mail.from_addr or ''}>", mail.text)
    )
    # Item positions move twice (duplicates merged, items the mail does not name removed):
    # the confidences follow their items, and only values still present keep one.
    confidence = remap_items(confidence, item_origins(raw_offer))
    confidence = remap_items(confidence, kept_items(len(offer.items), dropped))
    present = leaf_values(checked.model_dump())
    return Extraction(
        offer=checked,
        mail=mail,
        completion=_merged(completions, model or settings.llm.served_model),
        preprocess_ms=pre_ms,
        dropped=dropped,
        confidence={p: c for p, c in confidence.items() if p in present},
        unfound=unfound_values(offer, dropped),
    )
