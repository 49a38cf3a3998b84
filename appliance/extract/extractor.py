"""One mail in, one validated offer out: preprocess → prompt → constrained LLM call → contract."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from appliance.extract.confidence import leaf_values, remap_items
from appliance.extract.contract import Offer, Supplier, item_origins, normalise_offer
from appliance.extract.evidence import Evidence, check_evidence, kept_items, unfound_values
from appliance.extract.llm_client import Completion, LLMClient
from appliance.extract.prompt import build_messages
from appliance.preprocess import ParsedMail, parse_mail
from appliance.settings import Settings


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
        raw, max_bytes=p.max_bytes, max_parts=p.max_parts, max_text_chars=p.max_text_chars
    )


async def extract_offer(
    raw: bytes, settings: Settings, client: LLMClient, *, model: str | None = None
) -> Extraction:
    """Extract the offer of one raw mail; errors follow ``appliance.errors``.

    ``model``: the served model or adapter name (default: ``settings.llm.served_model``).
    """
    start = time.perf_counter()
    mail = preprocess(raw, settings)
    pre_ms = (time.perf_counter() - start) * 1000
    messages = build_messages(mail, settings.llm.max_input_chars)
    completion = await client.complete_json(messages, model)
    offer = normalise_offer(
        completion.data,
        language=mail.language,
        sender=Supplier(name=mail.from_name, email=mail.from_addr),
    )
    sender = f"{mail.from_name or ''} <{mail.from_addr or ''}>"
    checked, dropped = check_evidence(offer, Evidence(mail.subject, sender, mail.text))
    # Item positions move twice (duplicates merged, items the mail does not name removed):
    # the confidences follow their items, and only values still present keep one.
    confidence = remap_items(completion.confidence, item_origins(completion.data))
    confidence = remap_items(confidence, kept_items(len(offer.items), dropped))
    present = leaf_values(checked.model_dump())
    return Extraction(
        offer=checked,
        mail=mail,
        completion=completion,
        preprocess_ms=pre_ms,
        dropped=dropped,
        confidence={p: c for p, c in confidence.items() if p in present},
        unfound=unfound_values(offer, dropped),
    )
