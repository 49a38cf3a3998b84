"""Intake of one raw mail: blob first (the source of truth), then a ``RecordMail`` message."""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import re
from email.parser import BytesHeaderParser

from appliance.errors import InvalidRequest
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


_HEADER_FIELD = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")


def check_rfc822(raw: bytes) -> None:
    """Refuse (400, with the reason) a body that is not an RFC 822 message: empty, not starting
    with a header field, or without a ``From`` header. Anything else is left to the extractor,
    which records a broken mail as failed with its reason, like one fetched over IMAP."""
    if not raw.strip():
        raise InvalidRequest(
            "empty body: send one raw RFC 822 message (Content-Type: message/rfc822)"
        )
    first = raw.lstrip(b"\r\n").split(b"\n", 1)[0].rstrip(b"\r")
    if not _HEADER_FIELD.match(first):
        hint = (
            " (an mbox 'From ' line? send the message without it)" if first[:5] == b"From " else ""
        )
        shown = first[:40].decode("utf-8", "replace")
        raise InvalidRequest(
            "not an RFC 822 message: it must start with header fields such as 'From: …',"
            f" not {shown!r}{hint}"
        )
    try:
        headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    except Exception as exc:  # the compat32 parser hardly raises; be safe
        raise InvalidRequest(
            "not an RFC 822 message: its headers do not parse", detail=repr(exc)
        ) from exc
    if not headers.get("From"):
        raise InvalidRequest("not an RFC 822 message: it has no From header")


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
