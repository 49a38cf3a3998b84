"""Intake of one raw mail: blob first (the source of truth), then a ``RecordMail`` message."""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
from email.parser import BytesHeaderParser

from appliance.mail.blobstore import BlobStore
from appliance.messages import MailMeta, RecordMail


def header_meta(raw: bytes) -> MailMeta:
    """Decode the few headers the DB keeps, without parsing the body; never raises."""
    try:
        msg = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)

        def get(name: str) -> str | None:
            try:
                v = msg.get(name)
            except Exception:  # malformed header: keep going, the extractor reports it
                return None
            return " ".join(str(v).split())[:500] if v is not None else None

        name, addr = email.utils.parseaddr(get("From") or "")
        return MailMeta(
            message_id=get("Message-ID"),
            subject=get("Subject"),
            from_name=name or None,
            from_addr=addr.lower() or None,
            sent_at=get("Date"),
        )
    except Exception:
        return MailMeta()


def import_key(raw: bytes) -> tuple[str, int, str]:
    """(folder, uidvalidity, uid) for a mail imported from a file: keyed by its content."""
    return "import", 0, hashlib.sha256(raw).hexdigest()


def ingest(
    raw: bytes, blobs: BlobStore, *, account: str, folder: str, uidvalidity: int, uid: str
) -> RecordMail:
    """Store ``raw`` in the blob store and describe it for the DB owner."""
    sha = blobs.put(raw)
    return RecordMail(
        key=f"{account}/{folder}/{uidvalidity}/{uid}",
        account=account,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        sha256=sha,
        size=len(raw),
        meta=header_meta(raw),
    )
