"""Re-derive the mails from the blob store after the database was lost (or rolled back).

The blob store holds every raw mail ever fetched or imported, written before anything else:
it is the source of truth. When ``Database.open`` had to set a damaged file aside, the server
walks the store in arrival order, records each mail again (a mail the database still knows,
by sha256, is left alone) and queues the extraction of each one that still needs it.

What the lost database knew about our own e-mails is gone, so the dialogue writes no
automatic e-mail for a re-derived mail: it may have been answered before the loss. Each such
e-mail is an outbox row ``suppressed`` with :data:`REFUSAL`, and the offer goes to review.

The recovery writes a marker file next to the database (``<db>.rederive-pending``); the walk
removes it when done, so a server killed half-way finishes the walk at its next start.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from appliance.mail.blobstore import BlobStore
from appliance.mail.intake import header_meta
from appliance.messages import RecordMail
from appliance.store import repo
from appliance.store.db import Database, rederive_marker
from appliance.store.offers import Con

log = logging.getLogger(__name__)

# The account (and key prefix) of mails recorded from the blob store.
ACCOUNT = "rederived"
REFUSAL = (
    "re-derived from the blob store after a database recovery: it may have been answered"
    " before; review the offer and send from the API if needed"
)

QueueExtract = Callable[[int, str], None]


def blobs_in_order(blobs: BlobStore) -> Iterator[tuple[str, Path]]:
    """(sha256, path) of every stored mail, oldest first (the order they arrived in)."""
    paths = [p for p in blobs.root.glob("??/??/*.eml") if len(p.stem) == 64]
    paths.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    for p in paths:
        yield p.stem, p


def rederive(
    db: Database, blobs: BlobStore, queue_extract: QueueExtract, only: set[str] | None = None
) -> int:
    """Record every mail of the blob store the database does not know (or just the ``only``
    ones), and queue the extraction of each mail still waiting for one; returns how many mails
    were recorded anew.

    Idempotent: a second run records nothing new (the keys exist) and queues again only the
    mails still ``received`` (duplicate extractions are harmless).
    """
    recorded = queued = 0
    for sha, path in blobs_in_order(blobs):
        if only is not None and sha not in only:
            continue
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != sha:
            log.error("blob %s does not match its sha256; skipped (kept on disk)", path)
            continue
        msg = RecordMail(
            key=f"{ACCOUNT}/blobs/0/{sha}", account=ACCOUNT, folder="blobs", uidvalidity=0,
            uid=sha, sha256=sha, size=len(raw), meta=header_meta(raw),
        )  # fmt: skip
        rec = repo.record_mail(db, msg)
        recorded += rec.new_mail
        if rec.needs_extraction:
            queue_extract(rec.mail_id, sha)
            queued += 1
    log.warning(
        "re-derived from the blob store %s: %d mail(s) recorded anew, %d extraction(s) queued",
        blobs.root, recorded, queued,
    )  # fmt: skip
    return recorded


def run_pending(db: Database, blobs: BlobStore, queue_extract: QueueExtract) -> int | None:
    """Re-derive when the database was just recovered or a walk did not finish; returns the
    mails recorded anew, or None when nothing was to do."""
    if db.path is None:
        return None
    marker = rederive_marker(db.path)
    if not marker.exists():
        return None
    n = rederive(db, blobs, queue_extract)
    with db.lock:
        db.con.execute("CHECKPOINT")
    marker.unlink(missing_ok=True)
    if db.recovery is not None:
        db.recovery.rederived = n
    return n


def unknown_blobs(db: Database, blobs: BlobStore, min_age_s: float = 600.0) -> set[str]:
    """Stored mails older than ``min_age_s`` that no mail row knows.

    There should be none: a worker stores the blob, then the server records it within seconds
    (younger blobs may still be on their way, so they are left out). DuckDB may drop a damaged
    WAL *without an error* (seen with DuckDB 2.0: most garbled WALs open silently), losing
    committed mails; the server checks this at every start and re-derives what is missing.
    """
    import time

    known = {r["sha256"] for r in db.query("SELECT sha256 FROM mails")}
    limit = time.time() - min_age_s
    return {
        sha
        for sha, path in blobs_in_order(blobs)
        if sha not in known and path.stat().st_mtime < limit
    }


def reconcile(
    db: Database, blobs: BlobStore, queue_extract: QueueExtract, min_age_s: float = 600.0
) -> int:
    """Re-derive the mails of the blob store the database lost silently; returns how many."""
    missing = unknown_blobs(db, blobs, min_age_s)
    if not missing:
        return 0
    log.error(
        "DATABASE CHECK: the blob store holds %d mail(s) older than %.0fs that the database"
        " does not know (a lost WAL?); re-deriving them",
        len(missing), min_age_s,
    )  # fmt: skip
    return rederive(db, blobs, queue_extract, only=missing)


def refusal(con: Con, mail_id: int | None) -> str | None:
    """:data:`REFUSAL` when ``mail_id`` was re-derived from the blob store, else None."""
    if mail_id is None:
        return None
    row = con.execute("SELECT account FROM mails WHERE id = ?", [mail_id]).fetchone()
    return REFUSAL if row is not None and row[0] == ACCOUNT else None
