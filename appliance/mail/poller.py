"""Poll one account: fetch what is new, store each raw mail, hand it to the DB owner.

The cursor (UIDVALIDITY + last UID per folder, seen UIDLs for POP3) lives in Redis and is only
a hint to skip work: it advances after a batch has been stored and sent, and the DB's UNIQUE
keys make a re-fetch harmless. A lock per account keeps two pollers off the same mailbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

import redis
from redis.lock import Lock

from appliance.mail.blobstore import BlobStore
from appliance.mail.fetch import (
    FetchedMail,
    FolderCursor,
    delete_pop3,
    fetch_imap,
    fetch_pop3,
)
from appliance.mail.intake import ingest
from appliance.messages import RecordMail
from appliance.settings import AccountSettings

log = logging.getLogger(__name__)

Send = Callable[[RecordMail], None]


class CursorStore:
    """Per-account fetch cursors in Redis."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.ns = namespace

    def _key(self, account: str, what: str) -> str:
        return f"{self.ns}:cursor:{account}:{what}"

    def imap(self, account: AccountSettings) -> dict[str, FolderCursor]:
        out: dict[str, FolderCursor] = {}
        for folder in account.folders:
            raw = self.client.get(self._key(account.name, folder))
            if raw:
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                validity, last = text.split(":")
                out[folder] = FolderCursor(uidvalidity=int(validity), last_uid=int(last))
        return out

    def save_imap(self, account: str, folder: str, cursor: FolderCursor) -> None:
        self.client.set(self._key(account, folder), f"{cursor.uidvalidity}:{cursor.last_uid}")

    def pop3_seen(self, account: str) -> set[str]:
        members = cast("set[bytes]", self.client.smembers(self._key(account, "pop3")))
        return {m.decode() for m in members}

    def add_pop3_seen(self, account: str, uidls: list[str]) -> None:
        if uidls:
            self.client.sadd(self._key(account, "pop3"), *uidls)


def _hand_over(mails: list[FetchedMail], blobs: BlobStore, send: Send) -> None:
    for m in mails:
        send(
            ingest(
                m.raw, blobs, account=m.account, folder=m.folder, uidvalidity=m.uidvalidity,
                uid=m.uid,
            )
        )  # fmt: skip


def _renew(lock: Lock, account: str) -> None:
    """Give the poll lock its full lifetime again (a long fetch outlives one TTL)."""
    try:
        lock.reacquire()
    except redis.exceptions.LockError:
        log.warning("poll lock of %s expired during the fetch; another poller may run", account)


def poll_account(
    account: AccountSettings,
    password: str,
    blobs: BlobStore,
    cursors: CursorStore,
    send: Send,
    *,
    lock_timeout_s: float | None = None,
    max_bytes: int | None = None,
) -> int:
    """Fetch and hand over every new mail of ``account``; returns how many were handed over.

    Returns 0 without fetching when another poller holds the account's lock. The lock lives
    ``lock_timeout_s`` (default: four mail-server timeouts, at least 30 s) and is renewed after
    each batch, so the lock of a killed poller frees the account soon. ``max_bytes``
    (``preprocess.max_bytes``): an IMAP mail larger than this (by ``RFC822.SIZE``) is not
    downloaded; its headers are stored and it is recorded as failed (``mail_too_large``).
    """
    ttl = lock_timeout_s or max(30.0, 4 * account.timeout_s)
    lock = cursors.client.lock(f"{cursors.ns}:lock:poll:{account.name}", timeout=ttl)
    if not lock.acquire(blocking=False):
        log.info("account %s is being polled elsewhere; skipped", account.name)
        return 0
    count = 0
    try:
        if account.protocol == "imap":
            for folder, cursor, mails in fetch_imap(
                account, password, cursors.imap(account), max_bytes=max_bytes
            ):
                _hand_over(mails, blobs, send)
                cursors.save_imap(account.name, folder, cursor)
                count += len(mails)
                _renew(lock, account.name)
        else:
            seen = cursors.pop3_seen(account.name)
            for mails in fetch_pop3(account, password, seen):
                _hand_over(mails, blobs, send)
                uidls = [m.uid for m in mails]
                cursors.add_pop3_seen(account.name, uidls)
                # No-op unless delete_after_fetch: the mails are in the blob store and queued.
                delete_pop3(account, password, uidls)
                count += len(mails)
                _renew(lock, account.name)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("poll lock of %s expired before release", account.name)
    if count:
        log.info("account %s: %d new mail(s)", account.name, count)
    return count
