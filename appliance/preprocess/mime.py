"""Raw RFC 822 mail → ``ParsedMail``: limits, MIME walk, header decoding, body choice.

Parsing uses the stdlib ``email`` package with the lenient ``compat32`` policy; headers and
bodies are decoded here (RFC 2047 words, RFC 2231 filenames, raw 8-bit headers, mislabelled
charsets via ``charsets.decode_bytes``) so that one bad header never stops the mail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser

from appliance.errors import EmptyMail, MailTooLarge, MalformedMail
from appliance.preprocess.body import MAX_HTML_CHARS, MAX_HTML_DEPTH, Attachment, BodyWalker
from appliance.preprocess.headers import (
    MSG_ID,
    NOT_DOWNLOADED,
    addresses,
    decode_header_value,
    first_msg_id,
    iso_date,
    raw_header,
)
from appliance.preprocess.language import detect_language
from appliance.preprocess.quotes import is_forward_subject, strip_quotes

__all__ = ["Attachment", "ParsedMail", "decode_header_value", "parse_mail"]

# Headers the dialogue policy reads (RFC 3834 auto-submitted, lists, bounces, autoresponders).
_KEPT_HEADERS = (
    "Auto-Submitted", "Precedence", "List-Id", "List-Unsubscribe", "List-Post", "Return-Path",
    "Reply-To", "X-Mailer", "X-Auto-Response-Suppress", "X-Autoreply", "X-Autorespond",
    "Content-Type", "X-Appliance-Channel",
)  # fmt: skip
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")
_KNOWN_HEADER = re.compile(
    rb"^(?:from|to|cc|subject|date|message-id|mime-version|content-[a-z-]+|received|"
    rb"return-path|reply-to|in-reply-to|references)[ \t]*:",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedMail:
    """A mail as typed data for extraction (see ``parse_mail``)."""

    message_id: str | None
    subject: str
    from_name: str | None
    from_addr: str | None
    to: list[str]
    date: str | None
    in_reply_to: str | None
    references: list[str]
    headers: dict[str, str]
    body_text: str
    text: str
    language: str
    attachments: list[Attachment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _repair_headers(raw: bytes) -> tuple[bytes, int]:
    """Drop garbage lines (neither "Name: value" nor continuation) among the headers.

    The stdlib parser ends the headers at such a line, losing Content-Type and the rest. Only
    lines followed by a well-known header (From, Subject, Content-Type, ...) are dropped, so a
    header-less text keeps its lines. Returns (raw, number of lines dropped).
    """
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    end = min(ends) if ends else len(raw)
    lines = raw[:end].split(b"\n")
    last_known = max((i for i, line in enumerate(lines) if _KNOWN_HEADER.match(line)), default=0)
    kept = [
        line
        for i, line in enumerate(lines)
        if i == 0 or i > last_known or _HEADER_LINE.match(line) or line[:1] in (b" ", b"\t")
    ]
    dropped = len(lines) - len(kept)
    if not dropped:
        return raw, 0
    return b"\n".join(kept) + raw[end:], dropped


def _count_parts(msg: Message, max_parts: int, max_depth: int) -> None:
    """Raise before walking if the MIME tree is too big or too deep."""
    count = 0
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > max_parts:
            raise MailTooLarge(
                f"mail has more than {max_parts} MIME parts", detail=f"max_parts={max_parts}"
            )
        if depth > max_depth:
            raise MalformedMail(f"MIME parts nested deeper than {max_depth} levels")
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend((p, depth + 1) for p in payload if isinstance(p, Message))


def _defects(msg: Message) -> list[str]:
    names: list[str] = []
    for part in msg.walk():
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            if name not in names:
                names.append(name)
    return names


def parse_mail(
    raw: bytes,
    *,
    max_bytes: int = 10 * 1024 * 1024,
    max_parts: int = 200,
    max_text_chars: int = 20000,
    max_html_chars: int = MAX_HTML_CHARS,
    max_html_depth: int = MAX_HTML_DEPTH,
) -> ParsedMail:
    """Parse a raw RFC 822 mail into typed data for extraction.

    Raises ``MailTooLarge`` (over ``max_bytes``, checked before parsing, or over
    ``max_parts`` MIME parts), ``MalformedMail`` (not parseable at all, nesting too deep) or
    ``EmptyMail`` (no readable body text and no attachments). Everything else is best-effort
    and reported in ``warnings``.
    """
    if raw.startswith(NOT_DOWNLOADED + b":"):  # the poller's stand-in for a mail over the limit
        first = raw.split(b"\r\n", 1)[0].decode("ascii", "replace")
        raise MailTooLarge(
            "mail was over the size limit and not downloaded",
            detail=first.partition(":")[2].strip(),
        )
    if len(raw) > max_bytes:
        raise MailTooLarge(
            f"mail is {len(raw)} bytes; the limit is {max_bytes}", detail=f"max_bytes={max_bytes}"
        )
    if not raw.strip():
        raise EmptyMail("mail is empty (no headers, no body)")
    raw, dropped = _repair_headers(raw)
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # the feed parser is lenient; this is the truly unparseable
        raise MalformedMail("mail could not be parsed as RFC 822", detail=repr(exc)) from exc
    _count_parts(msg, max_parts, max_depth=50)

    warnings: list[str] = []
    try:
        defects = _defects(msg)
        walker = BodyWalker(max_parts, max_html_chars=max_html_chars, max_html_depth=max_html_depth)
        body_text = walker.body_text(msg)
    except RecursionError as exc:
        raise MalformedMail("MIME structure too deep to walk") from exc
    except Exception as exc:
        raise MalformedMail("MIME structure could not be walked", detail=repr(exc)) from exc
    if dropped:
        warnings.append(f"dropped {dropped} malformed header line(s)")
    if defects:
        warnings.append("MIME defects: " + ", ".join(defects))
    warnings.extend(walker.warnings)
    if not body_text.strip() and not walker.attachments:
        raise EmptyMail("mail has no readable body text and no attachments")

    subject = decode_header_value(raw_header(msg, "Subject"))
    text = strip_quotes(body_text, forwarded=is_forward_subject(subject)).strip()
    if not text and body_text.strip():
        text = body_text.strip()
        warnings.append("quote stripping left no text; full body kept")
    if len(text) > max_text_chars:
        text = text[:max_text_chars]
        warnings.append(f"text truncated to {max_text_chars} characters")
    language = detect_language(text)
    if language == "und":
        language = detect_language(subject)

    senders = addresses(raw_header(msg, "From"))
    from_name, from_addr = senders[0] if senders else ("", None)
    headers = {}
    for name in _KEPT_HEADERS:
        value = raw_header(msg, name)
        if value is not None:
            headers[name] = decode_header_value(value)
    return ParsedMail(
        message_id=first_msg_id(raw_header(msg, "Message-ID")),
        subject=subject,
        from_name=from_name or None,
        from_addr=from_addr,
        to=[addr for _, addr in addresses(raw_header(msg, "To"))],
        date=iso_date(raw_header(msg, "Date")),
        in_reply_to=first_msg_id(raw_header(msg, "In-Reply-To")),
        references=MSG_ID.findall(raw_header(msg, "References") or ""),
        headers=headers,
        body_text=body_text,
        text=text,
        language=language,
        attachments=list(walker.attachments),
        warnings=warnings,
    )
