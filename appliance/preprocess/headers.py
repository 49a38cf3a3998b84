"""Header decoding: RFC 2047 encoded words (lenient), raw 8-bit values, addresses, dates, ids."""

from __future__ import annotations

import binascii
import email.utils
import re
from datetime import UTC
from email.message import Message

from appliance.preprocess.charsets import decode_bytes

# First header line of the stand-in the mail poller stores for a mail over the size limit (its
# headers only; ``mail.fetch.not_downloaded``): ``parse_mail`` fails it as ``mail_too_large``.
# Only the very first line counts (servers put their own Return-Path/Received lines first).
NOT_DOWNLOADED = b"X-Appliance-Not-Downloaded"

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MSG_ID = re.compile(r"<[^<>\s]+>")
_ADDR = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_MAX_HEADER = 2000


def _unsurrogate(value: str) -> str:
    """Text of a raw header value whose 8-bit bytes the parser kept as surrogates."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("ascii", "surrogateescape")
        return decode_bytes(raw, None)[0]


def _decode_word(charset: str, encoding: str, payload: str) -> bytes | None:
    try:
        if encoding.lower() == "b":
            data = payload.encode("ascii", "ignore")
            decoded = binascii.a2b_base64(data + b"=" * (-len(data) % 4))
            return decoded if decoded or not payload else None
        return binascii.a2b_qp(payload.encode("ascii", "ignore"), header=True)
    except (binascii.Error, ValueError):
        return None


def decode_header_value(value: str | None) -> str:
    """Decode a raw header value: unfold, RFC 2047 words (lenient), 8-bit bytes, controls.

    Adjacent encoded words in the same charset are joined before decoding, so a UTF-8
    character split across two words (a common mailer bug) survives.
    """
    if not value:
        return ""
    text = _unsurrogate(str(value))
    out: list[str] = []
    pending: tuple[str, bytearray] | None = None  # (charset, bytes) of adjacent encoded words
    pos = 0

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.append(decode_bytes(bytes(pending[1]), pending[0])[0])
            pending = None

    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        if between.strip() or pending is None:
            flush()
            out.append(between)
        data = _decode_word(m.group(1), m.group(2), m.group(3))
        if data is None:
            flush()
            out.append(m.group(0))
        else:
            charset = m.group(1).split("*", 1)[0].lower()
            if pending is not None and pending[0] != charset:
                flush()
            if pending is None:
                pending = (charset, bytearray())
            pending[1].extend(data)
        pos = m.end()
    flush()
    out.append(text[pos:])
    decoded = _CONTROL.sub(" ", "".join(out))
    return " ".join(decoded.split())[:_MAX_HEADER]


def raw_header(msg: Message, name: str) -> str | None:
    """The first raw value of header ``name`` (unfolded), or None."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return re.sub(r"\r?\n[ \t]*", " ", str(value)).strip()
    return None


def addresses(raw: str | None) -> list[tuple[str, str]]:
    """(decoded display name, lower-cased address) pairs of an address header."""
    if not raw:
        return []
    value = _unsurrogate(raw)
    pairs: list[tuple[str, str]] = []
    try:
        parsed = email.utils.getaddresses([value])
    except Exception:  # malformed address lists: fall back to a plain search below
        parsed = []
    for name, addr in parsed:
        if "@" in addr:
            pairs.append((decode_header_value(name), addr.strip().lower()))
    if not pairs:
        pairs = [("", a.lower()) for a in _ADDR.findall(value)]
    return pairs


def iso_date(raw: str | None) -> str | None:
    """ISO 8601 UTC form of a Date header ("2026-01-05T09:00:00+00:00"), None if unparseable."""
    if not raw:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def first_msg_id(raw: str | None) -> str | None:
    """The first "<id>" of a Message-ID / In-Reply-To value, else the value without spaces."""
    if not raw:
        return None
    m = MSG_ID.search(raw)
    if m:
        return m.group(0)
    value = "".join(raw.split())
    return value[:_MAX_HEADER] or None
