"""Send outbound e-mail over SMTP and keep copies of it: plain functions the outbox actor calls.

:func:`send_message` calls ``before_data`` right before DATA. Until then failures are clean:
:class:`MailServerError` (connection problems, 4xx: retry later), :class:`MailRejected` (5xx,
no STARTTLS/AUTH offered: final) or :class:`MailAuthError`. After it, anything short of a
definite 4xx/5xx reply raises :class:`SendUncertain` (the e-mail may have been delivered; never
re-sent automatically; :func:`message_in_folder` helps settle it). :func:`append_to_folder`
files the sent copy over IMAP, :func:`write_to_folder` is the dry-run outbox. Passwords are
never logged.
"""

from __future__ import annotations

import email
import imaplib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient
from pydantic import SecretStr

from appliance.errors import (
    ConfigError,
    MailAuthError,
    MailRejected,
    MailServerError,
    SendUncertain,
)
from appliance.mail.fetch import imap_close, imap_connect
from appliance.settings import AccountSettings, SmtpSettings

log = logging.getLogger(__name__)

_EOL = re.compile(rb"\r\n|\r|\n")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_SEEN = b"\\Seen"


@dataclass(frozen=True)
class SendResult:
    """The outcome of an accepted send."""

    response: str  # the server's final reply, e.g. "250 2.0.0 Ok: queued"
    refused: dict[str, tuple[int, bytes]]  # recipients refused (partial success)


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply).strip()


def _reply_error(
    where: str, step: str, code: int, reply: bytes | str
) -> MailRejected | MailServerError:
    """5xx: refused for good; anything else (4xx, garbage) is worth another try later."""
    text = f"{where}: {step} refused: {code} {_text(reply)}"
    if 500 <= code < 600:
        return MailRejected(text, detail=str(code))
    return MailServerError(text, detail=str(code))


@contextmanager
def _guard(where: str, step: str) -> Iterator[None]:
    """Turn SMTP error replies and socket/TLS/timeout errors of one step into our errors."""
    try:
        yield
    except smtplib.SMTPResponseException as exc:
        raise _reply_error(where, step, exc.smtp_code, exc.smtp_error) from None
    except OSError as exc:  # smtplib.SMTPException is an OSError too
        reason = str(exc) or type(exc).__name__
        raise MailServerError(
            f"{where}: {step} failed: {reason}", detail=type(exc).__name__
        ) from exc


def _tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    except OSError as exc:
        raise ConfigError(f"smtp: cannot load ca_file {smtp.ca_file}: {exc}") from exc
    if not smtp.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _connect(smtp: SmtpSettings, ctx: ssl.SSLContext | None, where: str) -> smtplib.SMTP:
    """Open the connection (implicit TLS for ``ssl``) and read the greeting."""
    with _guard(where, "connect"):
        if smtp.security == "ssl":
            return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=ctx)
        return smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)


def _starttls(conn: smtplib.SMTP, ctx: ssl.SSLContext | None, where: str) -> None:
    with _guard(where, "STARTTLS"):
        if not conn.has_extn("starttls"):
            raise MailRejected(
                f"{where}: security is 'starttls' but the server does not offer STARTTLS "
                "(fix outbox.smtp.security or the server)"
            )
        conn.starttls(context=ctx)
        conn.ehlo_or_helo_if_needed()


def _login(conn: smtplib.SMTP, username: str, secret: str, where: str) -> None:
    with _guard(where, "AUTH"):
        try:
            conn.login(username, secret)
        except smtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.smtp_code < 500:  # 454: temporary authentication failure
                raise
            raise MailAuthError(
                f"{where}: authentication failed for user {username!r}",
                detail=f"{exc.smtp_code} {_text(exc.smtp_error)}",
            ) from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException):
            raise
        except smtplib.SMTPException as exc:  # no AUTH offered, no usable mechanism
            raise MailRejected(f"{where}: cannot log in as {username!r}: {exc}") from None


def _mail_options(conn: smtplib.SMTP, data: bytes, addresses: list[str], where: str) -> list[str]:
    options = [f"SIZE={len(data)}"] if conn.has_extn("size") else []
    if not data.isascii() and conn.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    if not all(a.isascii() for a in addresses):
        if not conn.has_extn("smtputf8"):
            raise MailRejected(f"{where}: a non-ASCII address needs SMTPUTF8, not offered")
        conn.command_encoding = "utf-8"
        options.append("SMTPUTF8")
    return options


def _recipients(conn: smtplib.SMTP, rcpt: list[str], where: str) -> dict[str, tuple[int, bytes]]:
    refused: dict[str, tuple[int, bytes]] = {}
    accepted = 0
    for addr in rcpt:
        code, reply = conn.rcpt(addr)
        if code in (250, 251):
            accepted += 1
        else:
            refused[addr] = (code, reply)
    summary = "; ".join(f"{a}: {c} {_text(r)}" for a, (c, r) in refused.items())
    if not accepted:
        cls = MailRejected if all(500 <= c < 600 for c, _ in refused.values()) else MailServerError
        raise cls(f"{where}: every recipient refused: {summary}")
    if refused:
        log.warning("%s: some recipients refused: %s", where, summary)
    return refused


def _data(conn: smtplib.SMTP, data: bytes, where: str) -> str:
    """DATA: only a definite error reply is clean; any other failure leaves the send uncertain."""
    try:
        code, reply = conn.data(data)
    except smtplib.SMTPDataError as exc:  # the DATA command itself was answered with an error
        raise _reply_error(where, "DATA", exc.smtp_code, exc.smtp_error) from None
    except Exception as exc:
        raise SendUncertain(
            f"{where}: connection failed during DATA, the e-mail may have been delivered: "
            f"{str(exc) or type(exc).__name__}",
            detail=type(exc).__name__,
        ) from exc
    if 200 <= code < 300:
        return f"{code} {_text(reply)}"
    if 400 <= code < 600:
        raise _reply_error(where, "message data", code, reply)
    raise SendUncertain(f"{where}: unexpected reply to the message data: {code} {_text(reply)}")


def send_message(
    smtp: SmtpSettings,
    raw: bytes,
    *,
    mail_from: str,
    rcpt: list[str],
    password: SecretStr | None = None,
    before_data: Callable[[], None] | None = None,
) -> SendResult:
    """Send ``raw`` (line endings normalised to CRLF) to ``rcpt`` through ``smtp``.

    AUTH is used when ``smtp.username`` is set, with ``password`` or else ``smtp.password()``.
    ``before_data`` is called once, after the recipients were accepted and immediately before
    DATA; an exception from it aborts the send (nothing was transmitted) and propagates.
    Raises MailServerError, MailRejected, MailAuthError or SendUncertain (see the module doc).
    """
    if not rcpt:
        raise ValueError("send_message needs at least one recipient")
    where = f"smtp {smtp.host}:{smtp.port}"
    secret = None
    if smtp.username:
        secret = (password if password is not None else smtp.password()).get_secret_value()
    ctx = _tls_context(smtp) if smtp.security != "none" else None
    data = _EOL.sub(b"\r\n", raw)
    conn = _connect(smtp, ctx, where)
    try:
        with _guard(where, "EHLO"):
            conn.ehlo_or_helo_if_needed()
        if smtp.security == "starttls":
            _starttls(conn, ctx, where)
        if secret is not None:
            _login(conn, smtp.username, secret, where)
        with _guard(where, "MAIL FROM"):
            code, reply = conn.mail(mail_from, _mail_options(conn, data, [mail_from, *rcpt], where))
            if code != 250:
                raise _reply_error(where, "MAIL FROM", code, reply)
        with _guard(where, "RCPT TO"):
            refused = _recipients(conn, rcpt, where)
        if before_data is not None:
            before_data()
        response = _data(conn, data, where)
    finally:
        with suppress(OSError):  # QUIT; after a lost connection it fails at once
            conn.quit()
        conn.close()
    log.info("%s: sent %d bytes to %d recipient(s): %s", where, len(data), len(rcpt), response)
    return SendResult(response=response, refused=refused)


# -- IMAP copies -------------------------------------------------------------------------------


@contextmanager
def _imap_guard(account: AccountSettings, action: str) -> Iterator[None]:
    try:
        yield
    except (OSError, imaplib.IMAP4.error) as exc:  # imapclient's errors derive from IMAP4.error
        raise MailServerError(
            f"account {account.name!r} ({account.host}:{account.port}): {action} failed: "
            f"{str(exc) or type(exc).__name__}",
            detail=type(exc).__name__,
        ) from exc


def _ensure_folder(client: IMAPClient, folder: str) -> None:
    if folder.upper() == "INBOX" or client.folder_exists(folder):
        return
    try:
        client.create_folder(folder)
    except imaplib.IMAP4.error:
        if not client.folder_exists(folder):  # not just created by someone else meanwhile
            raise
    with suppress(imaplib.IMAP4.error):
        client.subscribe_folder(folder)  # so mail clients show it


def append_to_folder(
    account: AccountSettings, password: SecretStr, folder: str, raw: bytes
) -> None:
    """Store a sent copy in ``folder`` (created and subscribed when missing) flagged ``\\Seen``."""
    client = imap_connect(account, password)
    try:
        with _imap_guard(account, f"APPEND to {folder!r}"):
            _ensure_folder(client, folder)
            client.append(folder, _EOL.sub(b"\r\n", raw), flags=[_SEEN])
    finally:
        imap_close(client)


def _norm_id(message_id: str) -> str:
    return "".join(message_id.split()).strip("<>")


def message_in_folder(
    account: AccountSettings, password: SecretStr, folder: str, message_id: str
) -> bool:
    """True when a mail with this Message-ID (angle brackets optional) is in ``folder``.

    False when the folder does not exist. The server's substring SEARCH is confirmed by
    comparing the fetched header exactly.
    """
    wanted = _norm_id(message_id)
    if not wanted:
        raise ValueError("empty Message-ID")
    client = imap_connect(account, password)
    try:
        with _imap_guard(account, f"SEARCH in {folder!r}"):
            if not client.folder_exists(folder):
                return False
            client.select_folder(folder, readonly=True)
            uids = client.search(["HEADER", "Message-ID", wanted])
            if not uids:
                return False
            fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    finally:
        imap_close(client)
    headers = [v for item in fetched.values() for k, v in item.items() if k.startswith(b"BODY[")]
    return any(
        _norm_id(str(email.message_from_bytes(h)["Message-ID"] or "")) == wanted for h in headers
    )


# -- dry-run outbox ----------------------------------------------------------------------------


def write_to_folder(folder: Path, name: str, raw: bytes) -> Path:
    """Write ``raw`` atomically to ``<folder>/<name>.eml`` (folder created) and return the path.

    ``name`` is reduced to ``[A-Za-z0-9._-]`` (others become ``_``, no leading dot). The same
    name overwrites the file, so writing again is harmless. The file is ``0640``.
    """
    safe = _UNSAFE_NAME.sub("_", name).lstrip(".")[:200]
    if not safe:
        raise ValueError(f"unusable outbox file name {name!r}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{safe}.eml"
    fd, tmp = tempfile.mkstemp(prefix=f".{safe}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return target
