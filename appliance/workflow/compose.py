"""Outbound e-mails built from fixed templates and sanitized, validated values only.

A supplier's mail is untrusted: nothing of it is quoted back. What reaches an outgoing e-mail
is a canned sentence (``labels.TEXTS``), a field label (``labels.FIELD_LABELS``, or a configured
extra field's, checked by the settings) or a value
passed through :func:`sanitize`, which lets no URL, e-mail address, markup or control character
through. Header values with CR or LF are refused, so no header can be injected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr

from appliance.extract.fields import FieldSpec
from appliance.workflow.labels import (
    FIELD_LABELS,
    SUPPORTED_LANGUAGES,
    TEXTS,
    language_of,
)

__all__ = [
    "FIELD_LABELS",
    "SUPPORTED_LANGUAGES",
    "TOKEN_RE",
    "AskedItem",
    "Outgoing",
    "compose_ack",
    "compose_questions",
    "make_message_id",
    "new_token",
    "reply_subject",
    "sanitize",
]

# Crockford base32 without I, L, O, U.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TOKEN_RE: re.Pattern[str] = re.compile(r"\[(Q-[0-9A-HJKMNP-TV-Z]{6})\]")
_TOKEN_ONLY = re.compile(r"Q-[0-9A-HJKMNP-TV-Z]{6}")
_ANY_TOKEN = re.compile(r"\[\s*Q-[0-9A-Za-z]{1,12}\s*\]", re.IGNORECASE)
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|rv|tr|ответ|отв|пересл)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
_URLISH = re.compile(r"(?:[a-z][a-z0-9+.\-]*://|www\.)\S*|\S+@\S+", re.IGNORECASE)
_EXTRA_CHARS = frozenset("-.,/x×()%+#&'\" ")
_DOT_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])\.(?=[^\W\d_])")
_ACK_MAX_ITEMS = 10


def new_token() -> str:
    """A fresh reference token like ``Q-7K3M9P`` (6 random Crockford base32 characters)."""
    return "Q-" + "".join(secrets.choice(_CROCKFORD) for _ in range(6))


def make_message_id(idem_key: str, domain: str) -> str:
    """The Message-ID of the e-mail with this idempotency key: the same key, the same id."""
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?", domain):
        raise ValueError(f"not a valid Message-ID domain: {domain!r}")
    digest = hashlib.sha256(idem_key.encode("utf-8")).hexdigest()[:24]
    return f"<sma.{digest}@{domain}>"


def sanitize(text: str | None, max_len: int = 80) -> str:
    """Reduce untrusted text to letters, digits, spaces and ``- . , / x × ( ) % + # & ' "``.

    NFKC first; URLs and e-mail addresses are dropped whole, every other character becomes a
    space, a dot between two letters gets a space after it (``evil.com`` -> ``evil. com``, so
    nothing looks like a domain), whitespace is collapsed, and the result is cut at a word
    boundary to at most ``max_len`` characters, ending with "…" when cut.
    """
    if not text:
        return ""
    s = _URLISH.sub(" ", unicodedata.normalize("NFKC", text))
    s = "".join(
        c if c in _EXTRA_CHARS or unicodedata.category(c)[0] == "L" or c.isdecimal() else " "
        for c in s
    )
    s = " ".join(_DOT_BETWEEN_LETTERS.sub(". ", s).split())
    if len(s) <= max_len:
        return s
    if max_len <= 1:
        return "…"[:max_len]
    cut = s[: max_len - 1]
    if s[max_len - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" -,./") + "…"


def reply_subject(original_subject: str | None, token: str, language: str) -> str:
    """``Re: <sanitized subject> [Q-XXXXXX]``: earlier Re:/Fwd: prefixes and tokens removed."""
    _check_token(token)
    s = unicodedata.normalize("NFKC", original_subject or "")
    s = _PREFIX_RE.sub("", _ANY_TOKEN.sub(" ", s))
    subject = sanitize(_PREFIX_RE.sub("", s), 60) or TEXTS[language_of(language)]["subject"]
    return f"Re: {subject} [{token}]"


@dataclass(frozen=True)
class AskedItem:
    """One item of the answer form: its 1-based number, its name and the fields to ask."""

    number: int
    name: str
    missing: list[str]


@dataclass(frozen=True)
class Outgoing:
    """An automatic e-mail ready to be sent (or written to the outbox folder)."""

    kind: str
    to_addr: str
    from_addr: str
    from_name: str
    subject: str
    message_id: str
    in_reply_to: str | None
    references: list[str] = field(default_factory=list)
    language: str = "en"
    body: str = ""

    def to_bytes(self) -> bytes:
        """The RFC 5322 message (CRLF line ends). Raises ``ValueError`` on a header value with
        CR or LF, or an address that is not a single plain address."""
        for addr in (self.to_addr, self.from_addr):
            if "@" not in addr or parseaddr(addr)[1] != addr or "," in addr:
                raise ValueError(f"not a single e-mail address: {addr!r}")
        headers: list[tuple[str, str]] = [
            ("From", formataddr((self.from_name, self.from_addr))),
            ("To", self.to_addr),
            ("Subject", self.subject),
            ("Date", format_datetime(dt.datetime.now(dt.UTC), usegmt=True)),
            ("Message-ID", self.message_id),
        ]
        if self.in_reply_to:
            headers.append(("In-Reply-To", self.in_reply_to))
        if self.references:
            headers.append(("References", " ".join(self.references)))
        headers += [
            ("Auto-Submitted", "auto-replied"),
            ("X-Auto-Response-Suppress", "All"),
            ("X-Appliance-Kind", self.kind),
        ]
        for name, value in [*headers, ("From", self.from_name)]:
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name} contains a line break")
        msg = EmailMessage(policy=SMTP)
        for name, value in headers:
            msg[name] = value
        msg.set_content(self.body, subtype="plain", charset="utf-8", cte="quoted-printable")
        return msg.as_bytes()


def _check_token(token: str) -> None:
    if not _TOKEN_ONLY.fullmatch(token):
        raise ValueError(f"not a reference token: {token!r}")


def _references(references: list[str], in_reply_to: str | None) -> list[str]:
    out = [
        r for i, r in enumerate(references) if r and r != in_reply_to and r not in references[:i]
    ]
    return [*out, in_reply_to] if in_reply_to else out


def _label(lang: str, key: str, extra: Sequence[FieldSpec] = ()) -> str:
    if key in FIELD_LABELS[lang]:
        return FIELD_LABELS[lang][key]
    for f in extra:
        if f.key == key:
            return f.label(lang)
    raise ValueError(f"no label for field {key!r}")


def _outgoing(
    *, kind: str, lang: str, token: str, to_addr: str, from_addr: str, from_name: str,
    original_subject: str | None, in_reply_to: str | None, references: list[str],
    lines: list[str], idem_key: str, id_domain: str,
) -> Outgoing:  # fmt: skip
    t = TEXTS[lang]
    signature = [t["regards"], *([name] if (name := sanitize(from_name, 60)) else [])]
    return Outgoing(
        kind=kind,
        to_addr=to_addr,
        from_addr=from_addr,
        from_name=from_name,
        subject=reply_subject(original_subject, token, lang),
        message_id=make_message_id(idem_key, id_domain),
        in_reply_to=in_reply_to,
        references=_references(references, in_reply_to),
        language=lang,
        body="\n".join([*lines, "", *signature]) + "\n",
    )


def _greeting(lang: str, to_name: str | None) -> str:
    name = sanitize(to_name, 40)
    return TEXTS[lang]["greet_name"].format(name=name) if name else TEXTS[lang]["greet"]


def compose_questions(
    *, kind: str, language: str, token: str, to_addr: str, to_name: str | None,
    from_addr: str, from_name: str, original_subject: str | None, in_reply_to: str | None,
    references: list[str], items: list[AskedItem], offer_missing: list[str], round_no: int,
    max_rounds: int, idem_key: str, id_domain: str, extra: Sequence[FieldSpec] = (),
) -> Outgoing:  # fmt: skip
    """A clarifying question (``kind="clarification"``) or its reminder (``"reminder"``).

    The body greets, thanks, and asks for exactly the missing fields as an answer form: per
    item ``"<number>. <name>"`` and a line ``"   <label>: "`` per field, then the offer-level
    fields under ``"Offer:"``. Round 2 and later thank for the reply instead of the offer.
    ``max_rounds`` is not shown to the supplier. ``extra``: the configured extra fields (their
    labels). Raises ``ValueError`` when there is nothing to ask, on an unknown field key or
    kind, or on a malformed token.
    """
    if kind not in ("clarification", "reminder"):
        raise ValueError(f"not a question kind: {kind!r}")
    _check_token(token)
    lang = language_of(language)
    t = TEXTS[lang]
    asked = [i for i in items if i.missing]
    if not asked and not offer_missing:
        raise ValueError("nothing to ask")
    if kind == "reminder":
        intro = t["reminder"]
    else:
        intro = t["thanks_again"] if round_no > 1 else t["thanks"]
    lines = [_greeting(lang, to_name), "", intro, t["instruction"].format(token=f"[{token}]")]
    for item in asked:
        lines += ["", f"{item.number}. {sanitize(item.name) or t['no_name']}"]
        lines += [f"   {_label(lang, key, extra)}: " for key in item.missing]
    if offer_missing:
        asked_offer = [f"   {_label(lang, k, extra)}: " for k in offer_missing]
        lines += ["", t["offer_block"], *asked_offer]
    return _outgoing(
        kind=kind, lang=lang, token=token, to_addr=to_addr, from_addr=from_addr,
        from_name=from_name, original_subject=original_subject, in_reply_to=in_reply_to,
        references=references, lines=lines, idem_key=idem_key, id_domain=id_domain,
    )  # fmt: skip


def compose_ack(
    *, language: str, token: str, to_addr: str, to_name: str | None, from_addr: str,
    from_name: str, original_subject: str | None, in_reply_to: str | None,
    references: list[str], item_names: list[str], idem_key: str, id_domain: str,
) -> Outgoing:  # fmt: skip
    """The acknowledgement (``kind="ack"``): the offer is complete and recorded, with the
    sanitized names of its items (at most 10, then "and N more")."""
    _check_token(token)
    lang = language_of(language)
    t = TEXTS[lang]
    names = [n for n in (sanitize(x) for x in item_names) if n]
    lines = [_greeting(lang, to_name), "", t["ack"]]
    lines += [f"- {n}" for n in names[:_ACK_MAX_ITEMS]]
    if len(names) > _ACK_MAX_ITEMS:
        lines.append("- " + t["ack_more"].format(n=len(names) - _ACK_MAX_ITEMS))
    lines += ["", t["ack_end"]]
    return _outgoing(
        kind="ack", lang=lang, token=token, to_addr=to_addr, from_addr=from_addr,
        from_name=from_name, original_subject=original_subject, in_reply_to=in_reply_to,
        references=references, lines=lines, idem_key=idem_key, id_domain=id_domain,
    )  # fmt: skip
