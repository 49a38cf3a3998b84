"""Outbound mail against real servers: aiosmtpd (SMTP) and the Dovecot fixture (IMAP copies)."""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from appliance.errors import MailAuthError, MailRejected, MailServerError, SendUncertain
from appliance.mail import smtp as smtp_mod
from appliance.mail.smtp import (
    append_to_folder,
    message_in_folder,
    send_message,
    write_to_folder,
)
from appliance.settings import SmtpSettings
from tests.helpers import free_port
from tests.integration.dovecot import Dovecot
from tests.integration.smtp import Received, SmtpServer

pytestmark = [pytest.mark.integration]

FROM = "purchasing@example.com"
TO = "sales@supplier.example"
USER = ("sender", "s3cret-pass")


def mail(message_id: str = "<q1@example.com>") -> bytes:
    """An 8-bit mail with a dot-leading line (tests DATA transparency)."""
    return (
        f"From: Purchasing <{FROM}>\r\nTo: {TO}\r\nSubject: A question about your offer\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Здравствуйте! What is the lead time?\r\n.a line that starts with a dot\r\n.\r\n"
        "Regards\r\n"
    ).encode()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the module's servers, so the certificate is made once."""
    return tmp_path_factory.mktemp("smtp")


@pytest.fixture
def plain(workdir: Path) -> Iterator[SmtpServer]:
    with SmtpServer("none", workdir=workdir) as srv:
        yield srv


def test_plain_send_delivers_exact_bytes_and_envelope(plain: SmtpServer) -> None:
    raw = mail()
    result = send_message(plain.settings(), raw, mail_from=FROM, rcpt=[TO, "boss@supplier.example"])
    assert result.response == "250 2.0.0 Ok: queued"
    assert result.refused == {}
    (got,) = plain.wait_for(1)
    assert got.data == raw
    assert (got.mail_from, got.rcpt_tos) == (FROM, [TO, "boss@supplier.example"])
    assert got.peer[0] == "127.0.0.1"


def test_bare_line_feeds_go_out_as_crlf(plain: SmtpServer) -> None:
    send_message(plain.settings(), b"Subject: x\n\nline 1\nline 2\n", mail_from=FROM, rcpt=[TO])
    assert plain.wait_for(1)[0].data == b"Subject: x\r\n\r\nline 1\r\nline 2\r\n"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_auth(workdir: Path, security: str) -> None:
    with SmtpServer(security, auth=USER, workdir=workdir) as srv:  # type: ignore[arg-type]
        # The password from the settings (a file) ...
        send_message(srv.settings(), mail("<a@example.com>"), mail_from=FROM, rcpt=[TO])
        # ... or given by the caller.
        settings = srv.settings(password_file=None)
        with pytest.raises(Exception, match="no password"):
            settings.password()
        pw = SecretStr(USER[1])
        send_message(settings, mail("<b@example.com>"), mail_from=FROM, rcpt=[TO], password=pw)
        assert [m.data for m in srv.wait_for(2)] == [
            mail("<a@example.com>"),
            mail("<b@example.com>"),
        ]


def test_tls_verification_uses_ca_file(workdir: Path) -> None:
    with SmtpServer("starttls", workdir=workdir) as srv:
        with pytest.raises(MailServerError, match="CERTIFICATE_VERIFY_FAILED"):
            send_message(srv.settings(verify_tls=True), mail(), mail_from=FROM, rcpt=[TO])
        checked = srv.settings(verify_tls=True, ca_file=srv.cert_file)
        send_message(checked, mail(), mail_from=FROM, rcpt=[TO])
        assert len(srv.wait_for(1)) == 1


def test_wrong_password_is_an_auth_error(workdir: Path) -> None:
    with SmtpServer("starttls", auth=USER, workdir=workdir) as srv:
        with pytest.raises(MailAuthError) as info:
            send_message(
                srv.settings(), mail(), mail_from=FROM, rcpt=[TO], password=SecretStr("wrong-pw")
            )
        assert "sender" in info.value.message and "535" in str(info.value.detail)
        assert "wrong-pw" not in f"{info.value.message} {info.value.detail}"
        assert srv.messages == []


def test_missing_starttls_or_auth_on_the_server_is_rejected(plain: SmtpServer) -> None:
    with pytest.raises(MailRejected, match="does not offer STARTTLS"):
        send_message(plain.settings(security="starttls"), mail(), mail_from=FROM, rcpt=[TO])
    with pytest.raises(MailRejected, match="cannot log in"):
        send_message(
            plain.settings(username="sender"),
            mail(),
            mail_from=FROM,
            rcpt=[TO],
            password=SecretStr("x"),
        )
    assert plain.messages == []


def test_4xx_to_data_is_transient_then_succeeds(plain: SmtpServer) -> None:
    plain.fail_next(451, "4.3.0 try again later")
    with pytest.raises(MailServerError) as info:
        send_message(plain.settings(), mail(), mail_from=FROM, rcpt=[TO])
    assert f"127.0.0.1:{plain.port}" in info.value.message
    assert "451 4.3.0 try again later" in info.value.message
    assert plain.messages == []
    send_message(plain.settings(), mail(), mail_from=FROM, rcpt=[TO])
    assert len(plain.wait_for(1)) == 1


def test_5xx_to_data_is_rejected(plain: SmtpServer) -> None:
    plain.fail_next(554, "5.7.1 spam detected")
    with pytest.raises(MailRejected, match=re.escape("554 5.7.1 spam detected")):
        send_message(plain.settings(), mail(), mail_from=FROM, rcpt=[TO])
    assert plain.messages == []


def test_connection_refused_is_transient() -> None:
    port = free_port()  # nothing listens there
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_s=2)
    with pytest.raises(MailServerError, match=re.escape(f"127.0.0.1:{port}: connect failed")):
        send_message(settings, mail(), mail_from=FROM, rcpt=[TO])


def test_refused_recipients(plain: SmtpServer) -> None:
    plain.refuse_rcpt = {"gone@supplier.example": "550 5.1.1 no such user"}
    calls: list[int] = []
    result = send_message(
        plain.settings(), mail(), mail_from=FROM, rcpt=[TO, "gone@supplier.example"],
        before_data=lambda: calls.append(1),
    )  # fmt: skip
    assert result.refused == {"gone@supplier.example": (550, b"5.1.1 no such user")}
    assert plain.wait_for(1)[0].rcpt_tos == [TO]
    # Nobody left: no DATA, no before_data.
    with pytest.raises(MailRejected, match="every recipient refused"):
        send_message(
            plain.settings(), mail(), mail_from=FROM, rcpt=["gone@supplier.example"],
            before_data=lambda: calls.append(2),
        )  # fmt: skip
    plain.refuse_rcpt["busy@supplier.example"] = "450 4.2.1 mailbox busy"
    with pytest.raises(MailServerError, match=re.escape("450 4.2.1 mailbox busy")):
        send_message(plain.settings(), mail(), mail_from=FROM, rcpt=["busy@supplier.example"])
    assert calls == [1]
    assert len(plain.messages) == 1


def test_before_data_runs_once_right_before_the_data(plain: SmtpServer) -> None:
    seen: list[int] = []
    send_message(
        plain.settings(), mail(), mail_from=FROM, rcpt=[TO],
        before_data=lambda: seen.append(len(plain.messages)),
    )  # fmt: skip
    assert seen == [0]
    assert len(plain.wait_for(1)) == 1

    def refuse() -> None:
        raise RuntimeError("the outbox row could not be marked")

    with pytest.raises(RuntimeError, match="could not be marked"):
        send_message(plain.settings(), mail(), mail_from=FROM, rcpt=[TO], before_data=refuse)
    assert len(plain.messages) == 1


def test_connection_dropped_during_data_is_uncertain(plain: SmtpServer) -> None:
    def crash(_: Received) -> None:
        raise ConnectionAbortedError("server died before its reply")

    plain.on_data = crash
    with pytest.raises(SendUncertain, match="may have been delivered"):
        send_message(plain.settings(), mail(), mail_from=FROM, rcpt=[TO])
    assert len(plain.messages) == 1  # the server did get it


def test_no_final_reply_in_time_is_uncertain(plain: SmtpServer) -> None:
    release = threading.Event()

    def stall(_: Received) -> None:
        release.wait(10)

    plain.on_data = stall
    try:
        with pytest.raises(SendUncertain):
            send_message(plain.settings(timeout_s=0.5), mail(), mail_from=FROM, rcpt=[TO])
    finally:
        release.set()
    assert len(plain.messages) == 1


# -- IMAP copies -------------------------------------------------------------------------------


def test_sent_copy_in_a_new_imap_folder(dovecot: Dovecot) -> None:
    account = dovecot.account("imap")
    password = account.password()
    c = dovecot.client()
    try:
        assert not c.folder_exists("Sent")
    finally:
        c.logout()
    assert message_in_folder(account, password, "Sent", "<s1@example.com>") is False

    raw = mail("<s1@example.com>")
    append_to_folder(account, password, "Sent", raw)
    assert dovecot.count("Sent") == 1
    assert all(b"\\Seen" in flags for flags in dovecot.flags("Sent").values())
    c = dovecot.client("Sent", readonly=True)
    try:
        (data,) = c.fetch(c.search(["ALL"]), ["BODY.PEEK[]"]).values()
        assert data[b"BODY[]"] == raw
        assert any(name == "Sent" for _, _, name in c.list_sub_folders())
    finally:
        c.logout()

    assert message_in_folder(account, password, "Sent", "<s1@example.com>")
    assert message_in_folder(account, password, "Sent", "s1@example.com")
    assert not message_in_folder(account, password, "Sent", "<s1@example.co>")  # substring only
    assert not message_in_folder(account, password, "Sent", "<other@example.com>")

    append_to_folder(account, password, "Sent", mail("<s2@example.com>"))  # folder exists now
    assert dovecot.count("Sent") == 2
    assert message_in_folder(account, password, "Sent", "<s2@example.com>")


def test_imap_copy_errors(dovecot: Dovecot) -> None:
    with pytest.raises(MailAuthError):
        append_to_folder(dovecot.account("imap"), SecretStr("wrong"), "Sent", mail())
    down = dovecot.account("imap", port=free_port())
    with pytest.raises(MailServerError):
        message_in_folder(down, SecretStr(dovecot.password), "Sent", "<x@example.com>")


# -- dry-run outbox ----------------------------------------------------------------------------


def test_write_to_folder_is_atomic_and_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = tmp_path / "var" / "outbox"
    path = write_to_folder(outbox, "offer-7/question 1", mail())
    assert path == outbox / "offer-7_question_1.eml"
    assert path.read_bytes() == mail()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert write_to_folder(outbox, "offer-7/question 1", mail()) == path
    assert sorted(os.listdir(outbox)) == ["offer-7_question_1.eml"]
    assert write_to_folder(outbox, "../x", b"x").name == "_x.eml"  # stays in the folder

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(smtp_mod.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        write_to_folder(outbox, "offer-7/question 1", b"half-written")
    assert path.read_bytes() == mail()  # the old file is untouched
    assert sorted(os.listdir(outbox)) == ["_x.eml", "offer-7_question_1.eml"]  # no temp left
