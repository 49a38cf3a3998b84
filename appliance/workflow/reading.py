"""What the extract worker reads from a mail for the dialogue, besides the offer itself:
threading headers and automatic-mail markers, where each value stands in the text, and the
filled-in answer form of a reply. Plain functions; the server decides what they mean."""

from __future__ import annotations

from collections.abc import Sequence

from appliance.extract.contract import Offer
from appliance.extract.evidence import locate
from appliance.extract.fields import EXTRA_PREFIX, OFFER_VALUES, ExtraField, item_values
from appliance.messages import FormAnswer, Span, ThreadInfo
from appliance.preprocess import ParsedMail
from appliance.workflow.answers import parse_answers
from appliance.workflow.policy import automatic_mail_reasons

_SNIPPET = 120


def thread_facts(mail: ParsedMail) -> ThreadInfo:
    """Threading headers, sender and the reasons (if any) this mail was written by a machine."""
    return ThreadInfo(
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=list(mail.references),
        subject=mail.subject or "",
        from_addr=mail.from_addr,
        from_name=mail.from_name,
        automatic=automatic_mail_reasons(mail.headers, mail.from_addr),
        channel=mail.headers.get("X-Appliance-Channel") or None,
    )


def _span(text: str, start: int, end: int) -> Span:
    return Span(start=start, end=end, text=text[start:end][:_SNIPPET])


def value_spans(offer: Offer, text: str) -> dict[str, Span]:
    """Field path (``items[0].unit_price``, ``items[0].extra.color``, ``valid_until``) → where
    the text states it."""
    out: dict[str, Span] = {}
    for i, item in enumerate(offer.items):
        for name, value in item_values(item.model_dump()).items():
            where = locate(name, value, text)
            if where:
                out[f"items[{i}].{name}"] = _span(text, *where)
    values = {name: getattr(offer, name) for name in OFFER_VALUES}
    values.update((EXTRA_PREFIX + n, v) for n, v in offer.extra.items())
    for name, value in values.items():
        where = locate(name, value, text)
        if where:
            out[name] = _span(text, *where)
    return out


def form_answers(text: str, extra: Sequence[ExtraField] = ()) -> list[FormAnswer]:
    """The values of a filled-in answer form (empty for mails that carry none); ``extra``:
    the configured extra fields, read after their labels too."""
    return [
        FormAnswer(number=a.number, field=a.field, value=a.value, span=_span(text, *a.span))
        for a in parse_answers(text, extra)
    ]
