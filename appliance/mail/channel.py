"""Channel-neutral messages (a web form, a messenger bridge) as RFC 822 mail.

``POST /api/v1/messages`` takes a :class:`ChannelMessage` (JSON) and :func:`build_message`
turns it into an ordinary e-mail with the standard library's ``email`` package, so it enters
the pipeline exactly like a mail fetched over IMAP: blob store, idempotency keys, extraction,
dialogue. The channel travels in the ``X-Appliance-Channel`` header; a sender without an e-mail
address gets a ``From`` header with only a display name, and the dialogue then sends the offer
to review instead of answering (see ``workflow.policy.refusal``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.policy
import email.utils
import mimetypes
import re
from email.headerregistry import Address
from email.message import EmailMessage

from pydantic import BaseModel, Field, field_validator, model_validator

from appliance.errors import InvalidRequest

CHANNEL_HEADER = "X-Appliance-Channel"
SENDER_ID_HEADER = "X-Appliance-Sender-Id"
CHANNEL_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,39}$"
# Client idempotency keys: UUIDs, ULIDs, "form-2026-12-01-0042" …; part of the mail's key.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:@-]{1,200}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(value: str | None) -> str:
    """``value`` as one header-safe line: control characters (CR, LF, tabs) become spaces."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


class Sender(BaseModel):
    """Who wrote the message. Replies go out by e-mail, so only ``email`` lets the appliance
    answer; ``name`` and ``id`` (the sender's id on the channel, e.g. a messenger user id) are
    kept with the mail for the reviewer."""

    model_config = {"extra": "forbid"}

    email: str | None = Field(default=None, max_length=254)
    name: str | None = Field(default=None, max_length=200)
    id: str | None = Field(default=None, max_length=200)

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        try:
            addr = Address(addr_spec=value)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"not an e-mail address: {value!r}") from exc
        if not addr.username or "." not in addr.domain or addr.addr_spec != value:
            raise ValueError(f"not an e-mail address: {value!r}")
        return value.lower()


class ChannelAttachment(BaseModel):
    """One file: its name and its bytes as base64 (line breaks allowed)."""

    model_config = {"extra": "forbid"}

    filename: str = Field(min_length=1, max_length=255)
    content_base64: str
    # A MIME type ("application/pdf"); guessed from the file name when absent.
    content_type: str | None = Field(default=None, pattern=r"^[\w.+-]+/[\w.+-]+$")


class ChannelMessage(BaseModel):
    """A message from another channel. ``text`` or ``html`` is required (both: the mail gets
    both as alternatives). ``idempotency_key``: a client's key for this message; sending the
    same key again (on the same channel) returns the mail recorded the first time. Without
    one, the same content twice is one mail."""

    model_config = {"extra": "forbid"}

    channel: str = Field(pattern=CHANNEL_PATTERN)
    sender: Sender = Field(default_factory=Sender)
    subject: str | None = Field(default=None, max_length=500)
    text: str | None = None
    html: str | None = None
    attachments: list[ChannelAttachment] = Field(default_factory=list, max_length=50)
    idempotency_key: str | None = Field(default=None, pattern=IDEMPOTENCY_KEY_PATTERN)

    @model_validator(mode="after")
    def _has_text(self) -> ChannelMessage:
        if not (self.text or "").strip() and not (self.html or "").strip():
            raise ValueError("missing text: give 'text' or 'html' (not blank)")
        return self


def decode_attachment(att: ChannelAttachment, position: int) -> bytes:
    """The attachment's bytes; 400 naming it when its base64 is broken."""
    try:
        return base64.b64decode("".join(att.content_base64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            f"attachments[{position}].content_base64 is not valid base64 ({att.filename!r}): {exc}"
        ) from exc


def _filename(name: str, position: int) -> str:
    base = one_line(re.split(r"[\\/]", name)[-1]).strip(". ")
    return base or f"attachment-{position + 1}"


def build_message(m: ChannelMessage, *, received_at: dt.datetime) -> bytes:
    """``m`` as an RFC 822 message (CRLF line ends): ``From`` the sender (display name only when
    there is no address), ``Subject``, ``Date`` (``received_at``), a new ``Message-ID``, the
    channel headers, the text and/or HTML body and the attachments."""
    msg = EmailMessage(policy=email.policy.SMTP)
    name = one_line(m.sender.name)
    if m.sender.email:
        local, _, domain = m.sender.email.rpartition("@")
        msg["From"] = Address(display_name=name, username=local, domain=domain)
    else:
        # No address: nobody to answer by e-mail. A display name only ("Name <>" would be an
        # empty address, a bare word would be read as one).
        msg["From"] = Address(display_name=name or f"{m.channel} sender", username="", domain="")
    msg["Subject"] = one_line(m.subject) or f"Message via {m.channel}"
    msg["Date"] = email.utils.format_datetime(received_at.astimezone(dt.UTC))
    msg["Message-ID"] = email.utils.make_msgid(domain=f"{m.channel}.intake.invalid")
    msg[CHANNEL_HEADER] = m.channel
    if m.sender.id:
        msg[SENDER_ID_HEADER] = one_line(m.sender.id)
    text, html = (m.text or "").strip(), (m.html or "").strip()
    if text:
        msg.set_content(text + "\n")
        if html:
            msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html, subtype="html")
    for i, att in enumerate(m.attachments):
        data = decode_attachment(att, i)
        filename = _filename(att.filename, i)
        ctype = att.content_type or mimetypes.guess_type(filename)[0]
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
