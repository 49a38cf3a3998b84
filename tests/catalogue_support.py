"""Shared by the catalogue tests: offers with a sent date, through the real dialogue."""

from __future__ import annotations

import datetime as dt
import itertools
from email.utils import format_datetime
from typing import Any

from appliance.messages import ExtractionOutcome, MailMeta, RecordMail, ThreadInfo
from appliance.settings import Settings, SupplierSettings
from appliance.store import repo
from appliance.store.db import Database
from appliance.workflow import dialogue

_n = itertools.count(1)
DAY0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


def catalogue_settings(**catalogue: Any) -> Settings:
    """Two registered suppliers; the supplier is never asked (no e-mails in these tests)."""
    return Settings(
        suppliers=[
            SupplierSettings(name="BoxWorks", domains=["boxworks.example"], auto_questions=False),
            SupplierSettings(name="Korobka", domains=["korobka.example"], auto_questions=False),
        ],
        dialogue={"unknown_senders": "review"},
        outbox={"from_addr": "purchasing@buyer.example"},
        catalogue=catalogue,
    )


def offer_mail(
    db: Database,
    settings: Settings,
    sender: str,
    items: list[dict[str, Any]],
    *,
    day: int = 0,
    valid_until: str | None = None,
) -> int:
    """A mail sent ``day`` days after ``DAY0`` with these items, stored through the dialogue;
    returns the offer id."""
    n = next(_n)
    mid = f"<c{n}@{sender.rpartition('@')[2]}>"
    sha = f"{n + 10_000:064d}"
    sent = format_datetime(DAY0 + dt.timedelta(days=day))
    rec = repo.record_mail(
        db, RecordMail(key=f"c/INBOX/1/{n}", account="c", folder="INBOX", uidvalidity=1,
                       uid=str(n), sha256=sha, size=10,
                       meta=MailMeta(message_id=mid, from_addr=sender, sent_at=sent)),
    )  # fmt: skip
    offer: dict[str, Any] = {"items": items, "language": "en", "supplier": {"email": sender}}
    if valid_until:
        offer["valid_until"] = valid_until
    out = ExtractionOutcome(
        mail_id=rec.mail_id, sha256=sha, model="m", language="en", offer=offer,
        thread=ThreadInfo(message_id=mid, in_reply_to=None, references=[], subject="Prices",
                          from_addr=sender, from_name="Sales", automatic=[]),
    )  # fmt: skip
    dialogue.save_extraction(db, settings, out)
    offer_id = db.scalar("SELECT id FROM offers WHERE mail_id = ?", [rec.mail_id])
    assert offer_id is not None
    return int(offer_id)
