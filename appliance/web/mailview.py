"""What the offer page shows of each mail: the preprocessed text (the one the evidence spans
point into) with the spans marked, and the sanitized HTML part for the sandboxed frame; and
the text of our own e-mails from the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

from markupsafe import Markup

from appliance.errors import ApplianceError
from appliance.extract.extractor import preprocess
from appliance.mail.blobstore import BlobStore
from appliance.settings import Settings
from appliance.store import outbox, queries
from appliance.store.db import Database
from appliance.web.sanitize import Mark, frame_document, highlight, html_part, sanitize_html


@dataclass
class MailView:
    """One mail of an offer's thread as the page shows it."""

    mail_id: int
    role: str
    from_addr: str | None
    subject: str | None
    received_at: str | None
    text: Markup = field(default_factory=Markup)
    # Sanitized HTML part as a whole document for ``<iframe sandbox srcdoc>``; None: no HTML.
    frame: str | None = None
    marks: int = 0
    error: str | None = None


@dataclass
class EmailView:
    """One of our own (automatic) e-mails of the offer."""

    id: int
    kind: str
    state: str
    to_addr: str | None
    subject: str | None
    created_at: str | None
    reason: str | None
    text: str = ""


def field_path(entry: dict[str, Any]) -> str:
    """``items[0].unit_price`` / ``valid_until`` for a provenance entry."""
    item = entry.get("item")
    return f"items[{item}].{entry['field']}" if item is not None else str(entry["field"])


def marks_for(provenance: list[dict[str, Any]], mail_id: int) -> list[Mark]:
    """The spans of the mail's current values (key ``p<index>`` = the provenance entry)."""
    out = []
    for k, p in enumerate(provenance):
        span = p.get("span")
        if p.get("mail_id") == mail_id and span and p.get("current"):
            out.append(Mark(int(span[0]), int(span[1]), field_path(p), f"p{k}"))
    return out


def thread_views(db: Database, settings: Settings, offer: dict[str, Any]) -> list[MailView]:
    """The offer's mails (origin, replies, others linked), each read from the blob store."""
    blobs = BlobStore(settings.paths.blob_dir)
    views = []
    for t in offer.get("thread") or []:
        mail = queries.get_mail(db, int(t["mail_id"]))
        v = MailView(
            mail_id=int(t["mail_id"]), role=str(t["role"]), from_addr=mail.get("from_addr"),
            subject=mail.get("subject"), received_at=mail.get("received_at"),
        )  # fmt: skip
        try:
            raw = blobs.get(str(mail["sha256"]))
            parsed = preprocess(raw, settings)
        except ApplianceError as exc:
            v.error = exc.message
            views.append(v)
            continue
        marks = marks_for(offer.get("provenance") or [], v.mail_id)
        v.text, v.marks = highlight(parsed.text, marks), len(marks)
        html = html_part(raw)
        if html is not None:
            v.frame = frame_document(sanitize_html(html))
        views.append(v)
    return views


def _plain_text(message: str | None) -> str:
    """The text/plain body of one of our e-mails (we only write plain text)."""
    if not message:
        return ""
    msg = BytesParser(policy=policy.default).parsebytes(message.encode("utf-8", "replace"))
    body = msg.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except Exception:
        return str(body.get_payload())


def email_views(db: Database, offer: dict[str, Any]) -> list[EmailView]:
    """The offer's automatic e-mails (sent, written, suppressed ...) with their text."""
    views = []
    for e in offer.get("emails") or []:
        row = outbox.get_outbox(db, int(e["id"]))
        views.append(
            EmailView(
                id=int(e["id"]), kind=str(e["kind"]), state=str(e["state"]),
                to_addr=e.get("to_addr"), subject=e.get("subject"),
                created_at=e.get("created_at"), reason=e.get("reason") or e.get("error"),
                text=_plain_text(row.get("message")),
            )
        )  # fmt: skip
    return views
