"""Offers without the LLM: seed an appliance's DuckDB file the production way, before its server
starts (DuckDB allows one process per file).

Each mail goes the path a fetched mail takes, with only the model's answer written by hand: raw
bytes into the blob store and ``repo.record_mail`` (intake), then the extract worker's own
reading (``preprocess``, ``normalise_offer``, ``check_evidence``, ``reading.value_spans`` …)
builds the ``ExtractionOutcome`` that ``dialogue.save_extraction`` stores, as the server does.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from appliance.extract.contract import Supplier, normalise_offer
from appliance.extract.evidence import Evidence, check_evidence
from appliance.extract.extractor import preprocess
from appliance.mail.blobstore import BlobStore
from appliance.mail.intake import ingest
from appliance.messages import ErrorInfo, ExtractionOutcome
from appliance.settings import Settings, load_settings
from appliance.store import repo, suppliers
from appliance.store.db import Database
from appliance.workflow import dialogue, reading
from tests.integration.services import Appliance

_uid = itertools.count(1)


def mail(
    *,
    sender: str,
    subject: str,
    text: str,
    html: str | None = None,
    name: str | None = None,
    in_reply_to: str | None = None,
    attachments: list[tuple[str, str]] | None = None,
) -> bytes:
    """A raw supplier mail: text/plain, plus a text/html alternative when ``html`` is given,
    plus ``attachments`` (file name, text) as text/plain attachments."""
    msg = EmailMessage()
    msg["From"] = Address(display_name=name or "", addr_spec=sender)
    msg["To"] = "purchasing@buyer.example"
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, content in attachments or []:
        msg.add_attachment(content, subtype="plain", filename=filename)
    return msg.as_bytes()


@dataclass
class Seeded:
    mail_id: int
    result: str
    offer_id: int | None


class Seeder:
    """Writes mails and their extraction outcomes into the appliance's data dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.blobs = BlobStore(settings.paths.blob_dir)
        self.db = Database.open(settings.paths.db_file)
        suppliers.sync_registry(self.db, settings.suppliers)

    @classmethod
    def for_appliance(cls, app: Appliance) -> Seeder:
        """A seeder over the (stopped) appliance's own settings and files."""
        return cls(load_settings(env=app.env))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Seeder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _record(self, raw: bytes) -> tuple[int, str]:
        rec = ingest(raw, self.blobs, account="seed", folder="INBOX", uidvalidity=1,
                     uid=str(next(_uid)))  # fmt: skip
        return repo.record_mail(self.db, rec).mail_id, rec.sha256

    def offer(
        self,
        raw: bytes,
        answer: dict[str, Any],
        *,
        model: str = "seed-model",
        confidence: dict[str, float] | None = None,
    ) -> Seeded:
        """Store ``raw`` and the model's ``answer`` (the contract's JSON) for it, exactly as the
        extract worker and the server would; ``confidence``: path → the model's confidence."""
        mail_id, sha = self._record(raw)
        parsed = preprocess(raw, self.settings)
        offer = normalise_offer(
            answer, language=parsed.language,
            sender=Supplier(name=parsed.from_name, email=parsed.from_addr),
        )  # fmt: skip
        sender = f"{parsed.from_name or ''} <{parsed.from_addr or ''}>"
        offer, dropped = check_evidence(offer, Evidence(parsed.subject, sender, parsed.text))
        out = ExtractionOutcome(
            mail_id=mail_id, sha256=sha, offer=offer.model_dump(mode="json"), model=model,
            language=parsed.language, warnings=[f"not in the mail: {d}" for d in dropped],
            thread=reading.thread_facts(parsed), spans=reading.value_spans(offer, parsed.text),
            answers=reading.form_answers(parsed.text), confidence=confidence or {},
            attachments=[a.__dict__ for a in parsed.attachments],
        )  # fmt: skip
        result, _ = dialogue.save_extraction(self.db, self.settings, out)
        offer_id = self.db.scalar(
            "SELECT offer_id FROM offer_mails WHERE mail_id = ? ORDER BY linked_at LIMIT 1",
            [mail_id],
        )
        return Seeded(mail_id, result, offer_id)

    def failed(self, raw: bytes, *, code: str = "extraction_invalid", message: str) -> int:
        """Store ``raw`` as a mail whose extraction failed for good."""
        mail_id, sha = self._record(raw)
        out = ExtractionOutcome(
            mail_id=mail_id, sha256=sha, error=ErrorInfo(code=code, message=message), final=True
        )
        dialogue.save_extraction(self.db, self.settings, out)
        return mail_id


def add_user(app: Appliance, name: str, password: str, role: str = "reviewer") -> None:
    """``appliance users add`` (opens the DB: before the server starts)."""
    subprocess.run(
        [sys.executable, "-m", "appliance.cli", "users", "add", name, "--role", role,
         "--password-stdin"],
        input=password + "\n", env=app.env, capture_output=True, text=True, check=True,
    )  # fmt: skip


# --- the standard set: a review queue of two, one complete offer, one waiting, one failed ----

BOXES_TEXT = """Hello,

thank you for your request. Our offer:

Corrugated box 40x30x20 cm, SKU BX-4030
Quantity: 500 pcs
Unit price: 0.85 EUR
Total: 500.00 EUR
Lead time: 10 days

Valid until 2026-12-31, delivery FCA Hamburg, payment 30 days net.

Best regards,
Anna Berg, BoxWorks
"""
BOXES_HTML = """<html><body><p>Hello,</p><p>thank you for your request. Our offer:</p>
<table border="1"><tr><th>Product</th><th>Qty</th><th>Price</th></tr>
<tr><td>Corrugated box 40x30x20 cm, SKU BX-4030</td><td>500 pcs</td><td>0.85 EUR</td></tr></table>
<p>Total: 500.00 EUR. Lead time: 10 days.</p><p>Best regards,<br>Anna Berg, BoxWorks</p>
</body></html>"""
BOXES = {
    "supplier": {"name": "BoxWorks", "email": "anna@boxworks.example"},
    "items": [{"product_name": "Corrugated box 40x30x20 cm", "sku": "BX-4030", "quantity": 500,
               "unit": "pcs", "unit_price": 0.85, "currency": "EUR", "total_price": 500,
               "lead_time_days": 10}],
    "valid_until": "2026-12-31", "incoterms": "FCA", "payment_terms": "30 days net",
}  # fmt: skip

SCREWS_TEXT = """Good morning,

Wood screws 4x40 mm, 10000 pcs at 0.02 USD each, total 250 USD, MOQ 5000, lead time 14 days.
Hex bolts M8x60, 2000 pcs at 0.11 USD each, total 220 USD, lead time 14 days.

Greta Nordin
Nordic Fasteners
"""
SCREWS = {
    "supplier": {"name": "Nordic Fasteners", "email": "greta@nordic-fasteners.example"},
    "items": [
        {"product_name": "Wood screws 4x40 mm", "quantity": 10000, "unit": "pcs",
         "unit_price": 0.02, "currency": "USD", "total_price": 250, "moq": 5000,
         "lead_time_days": 14},
        {"product_name": "Hex bolts M8x60", "quantity": 2000, "unit": "pcs", "unit_price": 0.11,
         "currency": "USD", "total_price": 220, "lead_time_days": 14},
    ],
}  # fmt: skip

PALLETS_TEXT = """Hi,

EUR pallets 1200x800 mm: 200 pcs, 9.50 EUR per piece, delivery in 5 days.

Ole
"""
PALLETS = {
    "supplier": {"name": "Ole", "email": "ole@pallets.example"},
    "items": [{"product_name": "EUR pallets 1200x800 mm", "quantity": 200, "unit": "pcs",
               "unit_price": 9.5, "currency": "EUR", "lead_time_days": 5}],
}  # fmt: skip

TAPE_TEXT = """Hello, we can offer packing tape 48 mm x 66 m, 3000 rolls. Price on request.
Regards, Tom
"""
TAPE = {
    "supplier": {"name": "Tom", "email": "tom@tapes.example"},
    "items": [{"product_name": "packing tape 48 mm x 66 m", "quantity": 3000, "unit": "rolls"}],
}  # fmt: skip

SUPPLIERS = [
    {"name": "BoxWorks", "domains": ["boxworks.example"]},
    {"name": "Nordic Fasteners", "emails": ["greta@nordic-fasteners.example"]},
]


@dataclass
class Standard:
    review: list[int]  # offer ids in queue order (the total contradicts quantity × price)
    complete: int
    awaiting: int
    failed_mail: int


def sure(answer: dict[str, Any], **low: float) -> dict[str, float]:
    """Confidences for every value of ``answer`` (0.90-0.99, as the model gives clear values),
    except ``low`` (``unit_price=0.42`` for item 0's)."""
    out: dict[str, float] = {}
    for i, item in enumerate(answer.get("items") or []):
        for k, v in item.items():
            if v is not None and not isinstance(v, dict):
                out[f"items[{i}].{k}"] = low.get(k, 0.9 + (len(k) % 10) / 100)
    for k in ("valid_until", "incoterms", "payment_terms"):
        if answer.get(k) is not None:
            out[k] = low.get(k, 0.95)
    return out


def seed_standard(s: Seeder) -> Standard:
    """Two offers in review (oldest first), one complete, one waiting for the supplier's
    answer, one failed mail."""
    boxes = s.offer(
        mail(sender="anna@boxworks.example", name="Anna Berg", subject="Offer: corrugated boxes",
             text=BOXES_TEXT, html=BOXES_HTML), BOXES, confidence=sure(BOXES, unit_price=0.42),
    )  # fmt: skip
    screws = s.offer(
        mail(sender="greta@nordic-fasteners.example", name="Greta Nordin",
             subject="Quotation screws and bolts", text=SCREWS_TEXT),
        SCREWS, confidence=sure(SCREWS),
    )  # fmt: skip
    pallets = s.offer(
        mail(sender="ole@pallets.example", name="Ole", subject="Pallets", text=PALLETS_TEXT),
        PALLETS, confidence=sure(PALLETS),
    )  # fmt: skip
    tape = s.offer(
        mail(sender="tom@tapes.example", name="Tom", subject="Packing tape", text=TAPE_TEXT), TAPE,
        confidence=sure(TAPE),
    )  # fmt: skip
    failed = s.failed(
        mail(sender="info@broken.example", subject="Price list", text="see attachment"),
        message="the model's answer is not valid JSON",
    )
    ids = [boxes.offer_id, screws.offer_id, pallets.offer_id, tape.offer_id]
    assert all(i is not None for i in ids), ids
    return Standard(
        review=[int(boxes.offer_id or 0), int(screws.offer_id or 0)],
        complete=int(pallets.offer_id or 0), awaiting=int(tape.offer_id or 0), failed_mail=failed,
    )  # fmt: skip
