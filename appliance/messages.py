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
