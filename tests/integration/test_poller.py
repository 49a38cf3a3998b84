"""``poll_account`` on real Dovecot and Redis: blobs first, each mail handed over once, cursors,
UIDVALIDITY changes, POP3 UIDLs and the per-account lock."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from appliance.mail.blobstore import BlobStore
from appliance.mail.poller import CursorStore, poll_account
from appliance.messages import RecordMail
from tests.integration.dovecot import Dovecot

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

pytestmark = pytest.mark.integration


def _poll(dovecot: Dovecot, url: str, blobs: BlobStore, protocol: str = "imap") -> list[RecordMail]:
    sent: list[RecordMail] = []
    acc = dovecot.account(protocol, name=f"acc-{protocol}")
    cursors = CursorStore(redis.Redis.from_url(url), "t")
    poll_account(acc, dovecot.password, blobs, cursors, sent.append)
    return sent


def test_imap_poll_hands_each_mail_over_once(
    dovecot: Dovecot, redis_url: str, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    raws = [(SAMPLES / n).read_bytes() for n in ("01-en-nails.eml", "03-ru-cp1251-cable.eml")]
    for raw in raws:
        dovecot.append(raw)
    first = _poll(dovecot, redis_url, blobs)
    assert len(first) == 2
    # Stored before it was sent (as the server returns it: CRLF line ends).
    assert all(blobs.get(m.sha256).replace(b"\r\n", b"\n") in raws for m in first)
    assert first[0].meta.message_id == "<q4471@nordicfasteners.example>"
    assert first[1].meta.subject and first[1].meta.subject.startswith("Коммерческое")
    assert _poll(dovecot, redis_url, blobs) == []
    validity = dovecot.reset_uidvalidity()
    again = _poll(dovecot, redis_url, blobs)
    assert {m.sha256 for m in again} == {m.sha256 for m in first}
    assert all(m.uidvalidity == validity and f"/{validity}/" in m.key for m in again)


def test_pop3_poll_uses_uidls(dovecot: Dovecot, redis_url: str, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    dovecot.clear()
    dovecot.append((SAMPLES / "05-en-boxes-no-price.eml").read_bytes())
    got = _poll(dovecot, redis_url, blobs, "pop3")
    assert len(got) == 1 and got[0].folder == "POP3" and got[0].uidvalidity == 0
    assert _poll(dovecot, redis_url, blobs, "pop3") == []
    assert dovecot.count() == 1  # not deleted unless delete_after_fetch


def test_a_held_lock_skips_the_poll(dovecot: Dovecot, redis_url: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_url)
    dovecot.append((SAMPLES / "02-en-html-chairs.eml").read_bytes())
    lock = client.lock("t:lock:poll:acc-imap", timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert _poll(dovecot, redis_url, BlobStore(tmp_path / "b")) == []
    finally:
        lock.release()
    subjects = {m.meta.subject for m in _poll(dovecot, redis_url, BlobStore(tmp_path / "b"))}
    assert "Offer for office chairs and desks" in subjects
