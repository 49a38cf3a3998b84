"""Reads and writes of mails, offers and events: plain functions over ``Database``.

Every write is idempotent, because Dramatiq delivers at least once: a mail is one row per
sha256 (its keys are sightings of it), an offer is one row per source mail, and a second
outcome for a mail that already has one is recorded as an event and otherwise ignored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass

import duckdb

from appliance.errors import NotFound
from appliance.extract.contract import Offer
from appliance.messages import ExtractionOutcome, RecordMail
from appliance.store.db import Database, utcnow

# Mail states.
RECEIVED = "received"
EXTRACTED = "extracted"
NO_OFFER = "no_offer"
FAILED = "failed"
MAIL_STATES = (RECEIVED, EXTRACTED, NO_OFFER, FAILED)


@dataclass(frozen=True)
class Recorded:
    mail_id: int
    new_mail: bool
    new_key: bool
    needs_extraction: bool


def add_event(
    db: Database,
    stage: str,
    outcome: str,
    *,
    mail_id: int | None = None,
    offer_id: int | None = None,
    duration_ms: float | None = None,
    detail: str | None = None,
) -> None:
    with db.lock:
        db.con.execute(
            "INSERT INTO events (mail_id, offer_id, stage, outcome, duration_ms, detail,"
            " occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [mail_id, offer_id, stage, outcome, duration_ms, detail, utcnow()],
        )


def record_mail(db: Database, msg: RecordMail) -> Recorded:
    """Record a sighting of a raw mail; a mail seen before (same content) is not re-created."""
    now = utcnow()
    with db.transaction() as con:
        if con.execute("SELECT 1 FROM mail_keys WHERE key = ?", [msg.key]).fetchone():
            row = con.execute(
                "SELECT m.id, m.state FROM mail_keys k JOIN mails m ON m.id = k.mail_id"
                " WHERE k.key = ?",
                [msg.key],
            ).fetchone()
            assert row is not None
            return Recorded(row[0], False, False, row[1] == RECEIVED)
        row = con.execute("SELECT id, state FROM mails WHERE sha256 = ?", [msg.sha256]).fetchone()
        new_mail = row is None
        if row is None:
            m = msg.meta
            row = con.execute(
                "INSERT INTO mails (sha256, account, size, message_id, subject, from_name,"
                " from_addr, sent_at, state, received_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, state",
                [
                    msg.sha256, msg.account, msg.size, m.message_id, m.subject, m.from_name,
                    m.from_addr, m.sent_at, RECEIVED, now, now,
                ],
            ).fetchone()  # fmt: skip
            assert row is not None
        con.execute(
            "INSERT INTO mail_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
            [msg.key, row[0], msg.account, msg.folder, msg.uidvalidity, msg.uid, now],
        )
        add_event(
            db, "intake", "recorded" if new_mail else "seen_again", mail_id=row[0], detail=msg.key
        )
    return Recorded(row[0], new_mail, True, row[1] == RECEIVED)


# Called inside the transaction of ``save_extraction`` with a valid offer; decides what the
# offer means (a new record, a reply merged into one, nothing) and returns whether the mail
# contributed to an offer record.
Settle = Callable[[duckdb.DuckDBPyConnection, Offer], bool]

# Called by ``claim_stuck_mails`` with the ids of lost mails: those to fail instead of queueing
# again, each with its (error code, message).
GiveUp = Callable[[list[int]], dict[int, tuple[str, str]]]


def save_extraction(db: Database, out: ExtractionOutcome, settle: Settle) -> str:
    """Store an extraction outcome for a mail; returns what happened (for events and metrics).

    Idempotent: a second outcome for a mail already extracted is recorded as an event and
    otherwise ignored. The mail's state, the offer work of ``settle`` and the event commit as
    one transaction.
    """
    now = utcnow()
    with db.transaction() as con:
        row = con.execute("SELECT state FROM mails WHERE id = ?", [out.mail_id]).fetchone()
        if row is None:
            raise NotFound(f"mail {out.mail_id} does not exist")
        if row[0] in (EXTRACTED, NO_OFFER):
            result = "duplicate_ignored"
        elif out.error is not None:
            state = FAILED if out.final else RECEIVED
            con.execute(
                "UPDATE mails SET state = ?, error_code = ?, error_message = ?,"
                " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                [state, out.error.code, out.error.message, now, out.mail_id],
            )
            result = "failed" if out.final else "retry"
        else:
            offer = Offer.model_validate(out.offer or {})
            state = EXTRACTED if settle(con, offer) else NO_OFFER
            con.execute(
                "UPDATE mails SET state = ?, error_code = NULL, error_message = NULL,"
                " attempts = attempts + 1, language = ?, attachments = ?, warnings = ?,"
                " updated_at = ? WHERE id = ?",
                [
                    state, out.language, json.dumps(out.attachments), json.dumps(out.warnings),
                    now, out.mail_id,
                ],
            )  # fmt: skip
            result = state
        add_event(
            db, "extract", result, mail_id=out.mail_id,
            duration_ms=out.preprocess_ms + out.llm_ms,
            detail=f"{out.model}: {out.error.message}" if out.error else out.model,
        )  # fmt: skip
    return result


def claim_stuck_mails(
    db: Database,
    older_than_s: float,
    *,
    waiting: Collection[int] = frozenset(),
    give_up: GiveUp | None = None,
) -> list[tuple[int, str]]:
    """Mails still waiting for extraction after ``older_than_s`` seconds whose work is lost.

    ``waiting``: mails the broker still holds a message for (queued, in flight, delayed, or
    an outcome not yet stored): they are waiting in a backlog, not lost, and are left alone.
    ``give_up(ids)``: of the lost ones, those not to queue again, each with the reason; they
    end ``failed`` with ``error_code`` ``code`` (a poison mail). The rest are stamped
    (``updated_at`` and a ``requeued`` event) so the next sweep skips them until they are
    stuck again; the caller queues their extraction.
    """
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=older_than_s)
    with db.transaction() as con:
        rows = con.execute(
            "SELECT id, sha256 FROM mails WHERE state = ? AND updated_at < ? ORDER BY id",
            [RECEIVED, cutoff],
        ).fetchall()
        lost = [(int(r[0]), str(r[1])) for r in rows if int(r[0]) not in waiting]
        failed = give_up([m for m, _ in lost]) if give_up and lost else {}
        for mail_id, (code, message) in failed.items():
            con.execute(
                "UPDATE mails SET state = ?, error_code = ?, error_message = ?, updated_at = ?"
                " WHERE id = ?",
                [FAILED, code, message, now, mail_id],
            )
            add_event(db, "extract", "failed", mail_id=mail_id, detail=f"{code}: {message}")
        requeue = [(m, sha) for m, sha in lost if m not in failed]
        for mail_id, _ in requeue:
            con.execute("UPDATE mails SET updated_at = ? WHERE id = ?", [now, mail_id])
            add_event(db, "extract", "requeued", mail_id=mail_id, detail="stuck")
    return requeue


def retry_mail(db: Database, mail_id: int) -> str:
    """Put a failed mail back to ``received`` so it is extracted again; returns its sha256."""
    with db.transaction() as con:
        row = con.execute("SELECT state, sha256 FROM mails WHERE id = ?", [mail_id]).fetchone()
        if row is None:
            raise NotFound(f"mail {mail_id} does not exist")
        con.execute(
            "UPDATE mails SET state = ?, updated_at = ? WHERE id = ?",
            [RECEIVED, utcnow(), mail_id],
        )
        add_event(db, "extract", "retry_requested", mail_id=mail_id, detail=f"was {row[0]}")
    return str(row[1])


@dataclass(frozen=True)
class MailRef:
    """A recorded mail as the intake API reports it."""

    mail_id: int
    sha256: str
    state: str


def mail_by_key(db: Database, key: str) -> MailRef | None:
    """The mail recorded under the idempotency key ``key`` (``account/folder/uidvalidity/uid``),
    or None when the key was never seen."""
    rows = db.query(
        "SELECT m.id, m.sha256, m.state FROM mail_keys k JOIN mails m ON m.id = k.mail_id"
        " WHERE k.key = ?",
        [key],
    )
    return MailRef(rows[0]["id"], rows[0]["sha256"], rows[0]["state"]) if rows else None
