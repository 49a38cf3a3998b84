"""Mail fetching against a real Dovecot (IMAP + POP3) on loopback."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import pytest

from appliance.errors import MailAuthError, MailServerError
from appliance.mail.fetch import (
    FetchedMail,
    FolderCursor,
    delete_pop3,
    fetch_imap,
    fetch_pop3,
    idle_wait,
)
from tests.integration.dovecot import Dovecot, free_port

pytestmark = pytest.mark.integration
T = TypeVar("T")


def mail(n: int, subject: str = "Offer") -> bytes:
    return (
        f"From: supplier{n}@example.com\r\nTo: buyer@example.com\r\n"
        f"Subject: {subject} {n}\r\nMessage-ID: <m{n}.{time.time_ns()}@example.com>\r\n\r\n"
        f"Nails, {n} boxes, 12.50 USD per box.\r\n"
    ).encode()


def drain(it: Iterable[T]) -> list[T]:
    return list(it)


def test_imap_fetches_once_without_seen(dovecot: Dovecot) -> None:
    raws = [mail(i) for i in range(5)]
    for raw in raws:
        dovecot.append(raw, folder="Peek")
    acc = dovecot.account(folders=["Peek"])

    batches = drain(fetch_imap(acc, dovecot.password, {}, batch=2))
    assert [len(m) for _, _, m in batches] == [2, 2, 1]
    got: list[FetchedMail] = [m for _, _, ms in batches for m in ms]
    assert [m.raw for m in got] == raws
    uidvalidity = dovecot.uidvalidity("Peek")
    assert [m.key for m in got] == [f"test-imap/Peek/{uidvalidity}/{i}" for i in range(1, 6)]
    # Each batch carries the cursor it advances to.
    assert [c for _, c, _ in batches] == [
        FolderCursor(uidvalidity, 2),
        FolderCursor(uidvalidity, 4),
        FolderCursor(uidvalidity, 5),
    ]
    # BODY.PEEK: nothing became \Seen.
    assert all(b"\\Seen" not in flags for flags in dovecot.flags("Peek").values())

    cursor = batches[-1][1]
    assert drain(fetch_imap(acc, dovecot.password, {"Peek": cursor})) == []

    dovecot.append(raws[0], folder="Peek")
    again = drain(fetch_imap(acc, dovecot.password, {"Peek": cursor}))
    assert [(f, c, [m.uid for m in ms]) for f, c, ms in again] == [
        ("Peek", FolderCursor(uidvalidity, 6), ["6"])
    ]


def test_imap_new_or_empty_folder_yields_its_cursor(dovecot: Dovecot) -> None:
    dovecot.append(mail(1), folder="Empty")
    dovecot.clear("Empty")
    acc = dovecot.account(folders=["Empty"])
    out = drain(fetch_imap(acc, dovecot.password, {}))
    assert out == [("Empty", FolderCursor(dovecot.uidvalidity("Empty"), 0), [])]
    assert drain(fetch_imap(acc, dovecot.password, {"Empty": out[0][1]})) == []


def test_imap_mark_seen(dovecot: Dovecot) -> None:
    for i in range(3):
        dovecot.append(mail(i), folder="Seen")
    acc = dovecot.account(folders=["Seen"], mark_seen=True)
    got = [m for _, _, ms in fetch_imap(acc, dovecot.password, {}, batch=2) for m in ms]
    assert len(got) == 3
    flags = dovecot.flags("Seen")
    assert len(flags) == 3
    assert all(b"\\Seen" in f for f in flags.values())


def test_imap_uidvalidity_change_refetches_all(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(3):
        dovecot.append(mail(i), folder="Reset")
    acc = dovecot.account(folders=["Reset"])
    first = drain(fetch_imap(acc, dovecot.password, {}))
    cursor = first[-1][1]
    old = cursor.uidvalidity

    new = dovecot.reset_uidvalidity("Reset")
    assert new != old
    with caplog.at_level(logging.WARNING, logger="appliance.mail.fetch"):
        again = drain(fetch_imap(acc, dovecot.password, {"Reset": cursor}))
    got = [m for _, _, ms in again for m in ms]
    assert len(got) == 3
    assert {m.uidvalidity for m in got} == {new}
    assert all(m.key.startswith(f"test-imap/Reset/{new}/") for m in got)
    assert again[-1][1] == FolderCursor(new, max(int(m.uid) for m in got))
    assert "UIDVALIDITY changed" in caplog.text


def test_imap_several_folders(dovecot: Dovecot) -> None:
    dovecot.append(mail(1), folder="A")
    dovecot.append(mail(2), folder="B")
    dovecot.append(mail(3), folder="B")
    acc = dovecot.account(folders=["A", "B"])
    out = drain(fetch_imap(acc, dovecot.password, {}))
    assert [(f, len(ms)) for f, _, ms in out] == [("A", 1), ("B", 2)]


def test_pop3_fetch_without_delete_by_default(dovecot: Dovecot) -> None:
    dovecot.clear("INBOX")
    raws = [mail(i, "POP") for i in range(3)]
    for raw in raws:
        dovecot.append(raw)
    acc = dovecot.account("pop3")
    assert acc.delete_after_fetch is False

    batches = drain(fetch_pop3(acc, dovecot.password, batch=2))
    assert [len(b) for b in batches] == [2, 1]
    got = [m for b in batches for m in b]
    assert [m.raw for m in got] == raws
    assert all(m.folder == "POP3" and m.uidvalidity == 0 for m in got)
    assert len({m.uid for m in got}) == 3
    assert got[0].key == f"test-pop3/POP3/0/{got[0].uid}"

    # Known UIDLs are skipped; nothing was deleted, and delete_pop3 refuses without the setting.
    assert drain(fetch_pop3(acc, dovecot.password, {m.uid for m in got})) == []
    assert delete_pop3(acc, dovecot.password, [m.uid for m in got]) == []
    assert dovecot.count("INBOX") == 3


def test_pop3_delete_when_configured(dovecot: Dovecot) -> None:
    dovecot.clear("INBOX")
    for i in range(3):
        dovecot.append(mail(i, "DEL"))
    acc = dovecot.account("pop3", delete_after_fetch=True)
    got = [m for b in fetch_pop3(acc, dovecot.password) for m in b]
    assert len(got) == 3
    assert dovecot.count("INBOX") == 3  # fetching alone never deletes

    stored = [got[0].uid, got[2].uid, "no-such-uidl"]
    assert delete_pop3(acc, dovecot.password, stored) == [got[0].uid, got[2].uid]
    assert dovecot.count("INBOX") == 1
    left = [m for b in fetch_pop3(acc, dovecot.password) for m in b]
    assert [m.uid for m in left] == [got[1].uid]
    assert delete_pop3(acc, dovecot.password, stored) == []  # again: harmless


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_wrong_password_is_auth_error(dovecot: Dovecot, protocol: str) -> None:
    acc = dovecot.account(protocol)
    wrong = "not-the-password-42"
    with pytest.raises(MailAuthError) as info:
        if protocol == "imap":
            drain(fetch_imap(acc, wrong, {}))
        else:
            drain(fetch_pop3(acc, wrong))
    assert "authentication failed" in info.value.message
    assert acc.name in info.value.message and str(acc.port) in info.value.message
    assert wrong not in str(info.value) and wrong not in (info.value.detail or "")


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_closed_port_is_server_error(dovecot: Dovecot, protocol: str) -> None:
    port = free_port()
    acc = dovecot.account(protocol, port=port, timeout_s=3.0)
    with pytest.raises(MailServerError) as info:
        if protocol == "imap":
            drain(fetch_imap(acc, dovecot.password, {}))
        else:
            drain(fetch_pop3(acc, dovecot.password))
    assert f"127.0.0.1:{port}" in info.value.message
    assert info.value.code == "mail_server"


def test_idle_wait_reports_new_mail(dovecot: Dovecot) -> None:
    dovecot.append(mail(0), folder="Idle")
    acc = dovecot.account(folders=["Idle"])
    stop = threading.Event()

    def deliver() -> None:  # one mail a second, so one surely lands while IDLE waits
        n = 1
        while not stop.wait(1.0):
            dovecot.append(mail(n), folder="Idle")
            n += 1

    sender = threading.Thread(target=deliver, daemon=True)
    started = time.monotonic()
    sender.start()
    try:
        assert idle_wait(acc, dovecot.password, "Idle", 30.0) is True
    finally:
        stop.set()
        sender.join(timeout=10)
    assert time.monotonic() - started < 20


def test_idle_wait_times_out(dovecot: Dovecot) -> None:
    dovecot.append(mail(0), folder="Quiet")
    acc = dovecot.account(folders=["Quiet"])
    started = time.monotonic()
    assert idle_wait(acc, dovecot.password, "Quiet", 1.5) is False
    assert 1.4 < time.monotonic() - started < 10


@pytest.fixture(scope="module")
def dovecot_tls(dovecot: Dovecot) -> Iterator[Dovecot]:
    """A second Dovecot with IMAPS/POP3S and STARTTLS (self-signed certificate)."""
    with Dovecot(tls=True) as server:
        yield server


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_fetch(dovecot_tls: Dovecot, protocol: str, security: str) -> None:
    dovecot_tls.clear("INBOX")
    dovecot_tls.append(mail(1, "TLS"))
    acc = dovecot_tls.account(protocol, security=security, verify_tls=False)
    if protocol == "imap":
        got = [m for _, _, ms in fetch_imap(acc, dovecot_tls.password, {}) for m in ms]
    else:
        got = [m for b in fetch_pop3(acc, dovecot_tls.password) for m in b]
    assert len(got) == 1 and b"Subject: TLS 1" in got[0].raw

    # A self-signed certificate is refused when verification is on.
    strict = dovecot_tls.account(protocol, security=security, verify_tls=True)
    with pytest.raises(MailServerError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        if protocol == "imap":
            drain(fetch_imap(strict, dovecot_tls.password, {}))
        else:
            drain(fetch_pop3(strict, dovecot_tls.password))


def test_imap_mail_over_the_limit_is_not_downloaded(dovecot: Dovecot) -> None:
    """``RFC822.SIZE`` first: a mail over ``max_bytes`` is not fetched, only its headers, into
    a stand-in that ``parse_mail`` fails as ``mail_too_large``; the others come whole.
    Dovecot's own byte count of the session shows the big body never left the server."""
    from appliance.errors import MailTooLarge
    from appliance.mail.fetch import MAX_HEADER_BYTES
    from appliance.preprocess import parse_mail
    from appliance.preprocess.headers import NOT_DOWNLOADED

    limit = 200_000
    small = mail(1, "Small offer")
    big = mail(2, "Huge offer").replace(b"\r\n\r\n", b"\r\nX-Filler: yes\r\n\r\n", 1)
    big += (b"x" * 998 + b"\r\n") * 2_000  # 2 MB of body
    after = mail(3, "After")
    for raw in (small, big, after):
        dovecot.append(raw, folder="Big")
    acc = dovecot.account(folders=["Big"], name="big-acct")
    log_before = dovecot.log_file.read_text(errors="replace") if dovecot.log_file.exists() else ""

    got = [m for _, _, ms in fetch_imap(acc, dovecot.password, {}, max_bytes=limit) for m in ms]
    assert [m.uid for m in got] == ["1", "2", "3"]
    assert got[0].raw == small and got[2].raw == after
    stand_in = got[1].raw
    assert stand_in.startswith(NOT_DOWNLOADED + f": size={len(big)}; limit={limit}".encode())
    assert len(stand_in) < MAX_HEADER_BYTES and b"Subject: Huge offer 2" in stand_in
    assert b"x" * 100 not in stand_in
    with pytest.raises(MailTooLarge, match="not downloaded"):
        parse_mail(stand_in)
    assert parse_mail(small).subject == "Small offer 1"
    # Dovecot logs the bytes it sent at logout: far fewer than the big mail.
    deadline = time.monotonic() + 5
    sent: list[int] = []
    while time.monotonic() < deadline and not sent:
        new = dovecot.log_file.read_text(errors="replace")[len(log_before) :]
        sent = [int(x) for x in re.findall(r"out=(\d+)", new)]
        time.sleep(0.2)
    if sent:  # imap_logout_format's default names out=<bytes>
        assert max(sent) < limit, sent
    # Without a limit the same mail is fetched whole.
    whole = [m for _, _, ms in fetch_imap(acc, dovecot.password, {}) for m in ms]
    assert whole[1].raw == big
