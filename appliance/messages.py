"""Typed messages between stages (over Dramatiq): the only way workers talk to the DB owner."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class MailMeta(BaseModel):
    """Header facts of a raw mail, read cheaply at intake."""

    message_id: str | None = None
    subject: str | None = None
    from_name: str | None = None
    from_addr: str | None = None
    sent_at: str | None = None


class RecordMail(BaseModel):
    """A raw mail now in the blob store, seen under one idempotency key."""

    key: str
    account: str
    folder: str
    uidvalidity: int
    uid: str
    sha256: str
    size: int
    meta: MailMeta = Field(default_factory=MailMeta)


class ErrorInfo(BaseModel):
    code: str
    message: str
    detail: str | None = None
    transient: bool = False


class ThreadInfo(BaseModel):
    """The facts of a mail the dialogue needs: threading headers and why not to answer it."""

    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    subject: str = ""
    from_addr: str | None = None
    from_name: str | None = None
    # Non-empty: an automatic mail (RFC 3834, list, bounce, noreply) that gets no answer.
    automatic: list[str] = Field(default_factory=list)
    # The channel of a message taken by the intake API (``X-Appliance-Channel``: ``webform``,
    # ``telegram`` …); None for e-mail.
    channel: str | None = None


class Span(BaseModel):
    """Where a value stands in the mail's cleaned text (character offsets) and how it reads."""

    start: int
    end: int
    text: str


class FormAnswer(BaseModel):
    """A value read from the filled-in answer form of a reply (see ``workflow.answers``)."""

    number: int | None
    field: str
    value: Any
    span: Span


class ExtractionOutcome(BaseModel):
    """What the extract actor hands back: an offer in the contract's shape, or an error."""

    mail_id: int
    sha256: str
    offer: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    final: bool = True
    model: str | None = None
    language: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    preprocess_ms: float = 0.0
    llm_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    thread: ThreadInfo = Field(default_factory=ThreadInfo)
    # Field path ("items[0].unit_price", "valid_until") → where the mail states the value.
    spans: dict[str, Span] = Field(default_factory=dict)
    answers: list[FormAnswer] = Field(default_factory=list)
    # Leaf path ("items[0].unit_price", "items[0].dimensions.length") → the model's confidence
    # in the value, in (0, 1] (``extract.confidence``); empty for older workers.
    confidence: dict[str, float] = Field(default_factory=dict)
    # Values the model gave that the mail does not contain (nulled): path → value.
    unfound: dict[str, Any] = Field(default_factory=dict)
