"""Shared by the webhook tests: offers driven through the real dialogue, and an HTTP receiver."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from appliance.messages import ExtractionOutcome, MailMeta, RecordMail, ThreadInfo
from appliance.settings import Settings, SupplierSettings
from appliance.store import repo
from appliance.store.db import Database
from appliance.workflow import dialogue

SUPPLIER = "anna@boxworks.example"
STRANGER = "someone@unknown.example"
FULL_ITEM = {
    "product_name": "Corrugated box 40x30x20 cm", "unit_price": 0.85, "currency": "EUR",
    "quantity": 500, "lead_time_days": 10,
}  # fmt: skip
# No price: an unknown sender is not asked (``unknown_senders = "review"``), so: needs_review.
PARTIAL_ITEM = {"product_name": "Pallet 1200x800", "lead_time_days": 5}

_n = itertools.count(1)


def dialogue_settings() -> Settings:
    """A registered supplier; offers of unknown senders go to review without e-mail."""
    return Settings(
        suppliers=[SupplierSettings(name="BoxWorks", domains=["boxworks.example"])],
        dialogue={"unknown_senders": "review"},
        outbox={"from_addr": "purchasing@buyer.example"},
    )


def new_offer(db: Database, settings: Settings, items: list[dict[str, Any]], sender: str) -> int:
    """Record a mail and save its (hand-made) extraction through the dialogue; the offer id."""
    n = next(_n)
    mid = f"<w{n}@{sender.rpartition('@')[2]}>"
    sha = f"{n:064d}"
    rec = repo.record_mail(
        db, RecordMail(key=f"a/INBOX/1/{n}", account="a", folder="INBOX", uidvalidity=1,
                       uid=str(n), sha256=sha, size=10,
                       meta=MailMeta(message_id=mid, from_addr=sender)),
    )  # fmt: skip
    out = ExtractionOutcome(
        mail_id=rec.mail_id, sha256=sha, model="m", language="en",
        offer={"items": items, "language": "en", "supplier": {"email": sender}},
        thread=ThreadInfo(message_id=mid, in_reply_to=None, references=[], subject="Offer",
                          from_addr=sender, from_name="Anna Berg", automatic=[]),
    )  # fmt: skip
    dialogue.save_extraction(db, settings, out)
    offer_id = db.scalar("SELECT id FROM offers WHERE mail_id = ?", [rec.mail_id])
    assert offer_id is not None
    return int(offer_id)


@dataclass
class Hit:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread. ``answer(path, delivery_id, n)`` gives the
    status for the n-th request (1-based) of that delivery on that path."""

    answer: Callable[[str, str, int], int]
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                delivery = self.headers.get("X-Appliance-Delivery", "")
                with receiver.lock:
                    receiver.hits.append(Hit(self.path, dict(self.headers.items()), body))
                    n = sum(
                        1
                        for h in receiver.hits
                        if h.path == self.path and h.headers.get("X-Appliance-Delivery") == delivery
                    )
                status = receiver.answer(self.path, delivery, n)
                reply = b"ok" if status < 300 else b"receiver says no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, path: str) -> list[Hit]:
        """The requests to ``path`` so far."""
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
