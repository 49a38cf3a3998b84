"""One mail in, one validated offer out: preprocess → prompt → constrained LLM call → contract."""

from __future__ import annotations

import time
from dataclasses import dataclass

from appliance.extract.contract import Offer, Supplier, normalise_offer
from appliance.extract.evidence import Evidence, check_evidence
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
    offer, dropped = check_evidence(offer, Evidence(mail.subject, sender, mail.text))
    return Extraction(
        offer=offer, mail=mail, completion=completion, preprocess_ms=pre_ms, dropped=dropped
    )
