"""Read new mail from IMAP and POP3 servers: plain functions the mail actor calls.

Nothing here marks or deletes a mail before the caller has stored it:

- IMAP fetches with ``BODY.PEEK[]`` (no ``\\Seen``) and yields one batch at a time with the
  cursor that batch advances to; the caller persists the mails, then the cursor, then asks for
  the next batch. With ``mark_seen`` the batch is flagged ``\\Seen`` only when the caller comes
  back for more, i.e. after it stored the batch.
- POP3 never deletes while fetching; the caller calls :func:`delete_pop3` with the UIDLs it has
  stored, which deletes only when the account says ``delete_after_fetch``.

Connection and protocol failures become :class:`MailServerError` (transient, retry later),
rejected credentials :class:`MailAuthError` (permanent). Passwords are never logged.
"""

from __future__ import annotations

import imaplib
import logging
import poplib
import ssl
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from pydantic import SecretStr

from appliance.errors import MailAuthError, MailServerError
from appliance.preprocess.headers import NOT_DOWNLOADED
from appliance.settings import AccountSettings

log = logging.getLogger(__name__)

POP3_FOLDER = "POP3"
# RFC 2177: clients should re-issue IDLE at least every 29 minutes.
_IDLE_RENEW_S = 25 * 60
# poplib refuses lines over 2048 bytes; real mail (unwrapped HTML) has longer ones.
_POP3_MAX_LINE = 1 << 20
# Server replies to a failed login that mean "try later", not "wrong password".
_TRANSIENT_LOGIN = ("UNAVAILABLE", "SERVERBUG", "INUSE", "IN-USE", "SYS/TEMP", "LIMIT")
_NET_ERRORS: tuple[type[BaseException], ...] = (OSError, imaplib.IMAP4.error, poplib.error_proto)


# The headers of a mail over the size limit are read up to this many bytes.
MAX_HEADER_BYTES = 65536


def not_downloaded(headers: bytes, size: int, limit: int) -> bytes:
    """The stand-in for a mail of ``size`` bytes over ``limit``: a marker line, the mail's
    headers (at most ``MAX_HEADER_BYTES``, cut at a line end) and a one-line body."""
    head = headers[:MAX_HEADER_BYTES].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    if len(headers) > MAX_HEADER_BYTES:
        head = head.rsplit(b"\n", 1)[0]
    lines = [ln for ln in head.split(b"\n") if ln.strip()]
    body = f"Not downloaded: the mail is {size} bytes, the limit is {limit}.".encode()
    marker = NOT_DOWNLOADED + f": size={size}; limit={limit}".encode()
    return b"\r\n".join([marker, *lines]) + b"\r\n\r\n" + body + b"\r\n"


@dataclass(frozen=True)
class FetchedMail:
    """One raw mail as read from a server, with where it came from."""

    account: str
    folder: str  # "INBOX" etc.; "POP3" for POP3
    uidvalidity: int  # 0 for POP3
    uid: str  # IMAP UID as a decimal string, or the POP3 UIDL
    raw: bytes

    @property
    def key(self) -> str:
        """The idempotency key: the mail is recorded once per key."""
        return f"{self.account}/{self.folder}/{self.uidvalidity}/{self.uid}"


@dataclass
class FolderCursor:
    """How far an IMAP folder has been read: everything up to ``last_uid`` is stored."""

    uidvalidity: int
    last_uid: int


def _where(account: AccountSettings) -> str:
    return f"account {account.name!r} ({account.protocol} {account.host}:{account.port})"


@contextmanager
def _guard(account: AccountSettings, action: str) -> Iterator[None]:
    """Turn socket, TLS, timeout and protocol errors into ``MailServerError``."""
    try:
        yield
    except _NET_ERRORS as exc:
        reason = str(exc) or type(exc).__name__
        raise MailServerError(
            f"{_where(account)}: {action} failed: {reason}", detail=type(exc).__name__
        ) from exc


def _login_error(account: AccountSettings, exc: Exception) -> MailServerError | MailAuthError:
    text = str(exc)
    if any(marker in text.upper() for marker in _TRANSIENT_LOGIN):
        return MailServerError(f"{_where(account)}: login refused for now: {text}")
    return MailAuthError(
        f"{_where(account)}: authentication failed for user {account.username!r}",
        detail=text,
    )


def _secret(password: str | SecretStr) -> str:
    return password.get_secret_value() if isinstance(password, SecretStr) else password


def _tls_context(account: AccountSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not account.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


# -- IMAP --------------------------------------------------------------------------------------


def imap_connect(account: AccountSettings, password: str | SecretStr) -> IMAPClient:
    """Connect (SSL / STARTTLS / plain) and log in; the caller closes with ``imap_close``."""
    ctx = _tls_context(account) if account.security != "none" else None
    with _guard(account, "connect"):
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.security == "ssl",
            ssl_context=ctx,
            timeout=account.timeout_s,
        )
    try:
        with _guard(account, "STARTTLS"):
            if account.security == "starttls":
                client.starttls(ctx)
        with _guard(account, "login"):
            try:
                client.login(account.username, _secret(password))
            except LoginError as exc:
                raise _login_error(account, exc) from None
    except BaseException:
        imap_close(client)
        raise
    return client


def imap_close(client: IMAPClient) -> None:
    """Log out; when that fails (a dead connection), just shut the socket down."""
    try:
        client.logout()
    except Exception:
        with suppress(Exception):
            client.shutdown()


def fetch_imap(
    account: AccountSettings,
    password: str | SecretStr,
    cursors: dict[str, FolderCursor],
    *,
    batch: int = 50,
    max_bytes: int | None = None,
) -> Iterator[tuple[str, FolderCursor, list[FetchedMail]]]:
    """Yield ``(folder, new_cursor, mails)`` per batch of new mail in each configured folder.

    ``max_bytes`` (``preprocess.max_bytes``): each batch's ``RFC822.SIZE`` is fetched first,
    and a mail larger than that is never downloaded: only its headers are, into the stand-in
    of ``not_downloaded``, which is stored and recorded as failed (``mail_too_large``).

    Each folder is SELECTed read-only (read-write with ``mark_seen``); when its UIDVALIDITY
    differs from the cursor's, the folder is read again from UID 0 (with a warning). Mails are
    fetched with ``BODY.PEEK[]`` so nothing becomes ``\\Seen``; with ``mark_seen`` a batch is
    flagged ``\\Seen`` when the caller resumes the iterator after storing it. The caller should
    persist each batch, then ``new_cursor``, before asking for the next. A folder without new
    mail yields one empty batch only when its cursor changed (new folder or new UIDVALIDITY).
    The ``cursors`` dict is not modified.
    """
    if batch < 1:
        raise ValueError("batch must be >= 1")
    client = imap_connect(account, password)
    try:
        for folder in account.folders:
            yield from _fetch_folder(client, account, folder, cursors.get(folder), batch, max_bytes)
    finally:
        imap_close(client)


def _fetch_folder(
    client: IMAPClient,
    account: AccountSettings,
    folder: str,
    cursor: FolderCursor | None,
    batch: int,
    max_bytes: int | None = None,
) -> Iterator[tuple[str, FolderCursor, list[FetchedMail]]]:
    with _guard(account, f"SELECT {folder!r}"):
        info = client.select_folder(folder, readonly=not account.mark_seen)
    uidvalidity = int(info[b"UIDVALIDITY"])
    last_uid = 0
    if cursor is not None and cursor.uidvalidity == uidvalidity:
        last_uid = cursor.last_uid
    elif cursor is not None:
        log.warning(
            "%s folder %s: UIDVALIDITY changed %s -> %s, reading the folder again",
            _where(account), folder, cursor.uidvalidity, uidvalidity,
        )  # fmt: skip
    with _guard(account, f"UID SEARCH in {folder!r}"):
        # "n:*" also matches the highest UID when it is below n: filter again.
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
    new_cursor = FolderCursor(uidvalidity, last_uid)
    (log.info if uids else log.debug)(
        "%s folder %s: %d new mail(s)", _where(account), folder, len(uids)
    )
    if not uids:
        if cursor != new_cursor:
            yield folder, new_cursor, []
        return
    for start in range(0, len(uids), batch):
        chunk = uids[start : start + batch]
        raws = _fetch_chunk(client, account, folder, chunk, max_bytes)
        mails = [
            FetchedMail(account.name, folder, uidvalidity, str(uid), raws[uid])
            for uid in chunk
            if uid in raws  # expunged meanwhile: gone, skip it
        ]
        yield folder, FolderCursor(uidvalidity, chunk[-1]), mails
        if account.mark_seen and mails:
            with _guard(account, f"STORE \\Seen in {folder!r}"):
                client.add_flags([int(m.uid) for m in mails], [b"\\Seen"], silent=True)


def idle_wait(
    account: AccountSettings, password: str | SecretStr, folder: str, timeout_s: float
) -> bool:
    """Wait once with IMAP IDLE on ``folder``.

    Returns True as soon as the server reports new mail (EXISTS/RECENT), False when
    ``timeout_s`` passes first or the server lacks IDLE. The caller polls afterwards either way.
    """
    client = imap_connect(account, password)
    try:
        with _guard(account, f"IDLE on {folder!r}"):
            if not client.has_capability("IDLE"):
                log.info("%s: server lacks IDLE", _where(account))
                return False
            client.select_folder(folder, readonly=True)
            deadline = time.monotonic() + timeout_s
            while (remaining := deadline - time.monotonic()) > 0:
                if _idle_once(client, account, min(remaining, _IDLE_RENEW_S)):
                    return True
            return False
    finally:
        imap_close(client)


def _idle_once(client: IMAPClient, account: AccountSettings, seconds: float) -> bool:
    end = time.monotonic() + seconds
    found, empty = False, 0
    client.idle()
    while not found and (left := end - time.monotonic()) > 0:
        responses = client.idle_check(timeout=left)
        found = any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
        empty = 0 if responses else empty + 1
        if empty >= 3 and end - time.monotonic() > 0.05:  # readable but nothing: EOF
            raise MailServerError(f"{_where(account)}: connection closed during IDLE")
    client.idle_done()
    return found


# -- POP3 --------------------------------------------------------------------------------------


class _LongLines(poplib.POP3):
    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(_POP3_MAX_LINE + 1)
        if len(line) > _POP3_MAX_LINE:
            raise poplib.error_proto("line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        return line.rstrip(b"\r\n"), len(line)


class _POP3SSL(_LongLines, poplib.POP3_SSL):
    pass


def _pop3_connect(account: AccountSettings, password: str | SecretStr) -> poplib.POP3:
    """Connect (SSL / STLS / plain) and log in with USER/PASS."""
    ctx = _tls_context(account) if account.security != "none" else None
    with _guard(account, "connect"):
        conn: poplib.POP3
        if account.security == "ssl":
            conn = _POP3SSL(account.host, account.port, timeout=account.timeout_s, context=ctx)
        else:
            conn = _LongLines(account.host, account.port, timeout=account.timeout_s)
    try:
        with _guard(account, "STLS"):
            if account.security == "starttls":
                conn.stls(context=ctx)
        with _guard(account, "USER"):
            conn.user(account.username)
        with _guard(account, "PASS"):
            try:
                conn.pass_(_secret(password))
            except poplib.error_proto as exc:
                raise _login_error(account, exc) from None
    except BaseException:
        _pop3_close(conn)
        raise
    return conn


def _pop3_close(conn: poplib.POP3) -> None:
    """Close without QUIT, so the server applies no DELE of this session."""
    with suppress(OSError):  # e.g. EBADF after a failed STLS handshake
        conn.close()


def _uidl_map(conn: poplib.POP3, account: AccountSettings) -> dict[str, int]:
    """UIDL → message number, in server order."""
    with _guard(account, "UIDL"):
        _, lines, _ = conn.uidl()
    out: dict[str, int] = {}
    for line in lines:
        num, _, uidl = line.decode("ascii", "replace").strip().partition(" ")
        out[uidl] = int(num)
    return out


def _fetch_chunk(
    client: IMAPClient,
    account: AccountSettings,
    folder: str,
    chunk: list[int],
    max_bytes: int | None,
) -> dict[int, bytes]:
    """UID → raw mail of ``chunk``; over ``max_bytes`` (by ``RFC822.SIZE``) the stand-in."""
    big: dict[int, int] = {}
    if max_bytes is not None:
        with _guard(account, f"UID FETCH RFC822.SIZE in {folder!r}"):
            sizes = client.fetch(chunk, ["RFC822.SIZE"])
        big = {
            uid: int(d[b"RFC822.SIZE"])
            for uid, d in sizes.items()
            if int(d.get(b"RFC822.SIZE", 0)) > max_bytes
        }
    out: dict[int, bytes] = {}
    small = [uid for uid in chunk if uid not in big]
    if small:
        with _guard(account, f"UID FETCH in {folder!r}"):
            data = client.fetch(small, ["BODY.PEEK[]"])
        out.update((uid, bytes(d[b"BODY[]"])) for uid, d in data.items() if b"BODY[]" in d)
    if big:
        assert max_bytes is not None
        part = f"BODY.PEEK[HEADER]<0.{MAX_HEADER_BYTES + 1}>"
        with _guard(account, f"UID FETCH headers in {folder!r}"):
            data = client.fetch(list(big), [part])
        for uid, d in data.items():
            head = next((bytes(v) for k, v in d.items() if k.startswith(b"BODY[HEADER]")), b"")
            log.warning(
                "%s folder %s: UID %s is %d bytes, over the limit of %d: not downloaded",
                _where(account), folder, uid, big[uid], max_bytes,
            )  # fmt: skip
            out[uid] = not_downloaded(head, big[uid], max_bytes)
    return out


def fetch_pop3(
    account: AccountSettings,
    password: str | SecretStr,
    seen_uidls: Collection[str] | None = None,
    *,
    batch: int = 50,
) -> Iterator[list[FetchedMail]]:
    """Yield batches of the mails whose UIDL is not in ``seen_uidls`` (RETR, never DELE).

    Keys are ``<account>/POP3/0/<UIDL>``. Nothing is deleted here: after storing, call
    :func:`delete_pop3` with the stored UIDLs.
    """
    if batch < 1:
        raise ValueError("batch must be >= 1")
    seen = set(seen_uidls or ())
    conn = _pop3_connect(account, password)
    try:
        todo = [(num, uidl) for uidl, num in _uidl_map(conn, account).items() if uidl not in seen]
        (log.info if todo else log.debug)("%s: %d new mail(s)", _where(account), len(todo))
        for start in range(0, len(todo), batch):
            mails = []
            for num, uidl in todo[start : start + batch]:
                with _guard(account, f"RETR {num}"):
                    _, lines, _ = conn.retr(num)
                raw = b"\r\n".join(lines) + b"\r\n"
                mails.append(FetchedMail(account.name, POP3_FOLDER, 0, uidl, raw))
            yield mails
    finally:
        with suppress(*_NET_ERRORS):
            conn.quit()  # no DELE was sent, so QUIT changes nothing
        _pop3_close(conn)


def delete_pop3(
    account: AccountSettings, password: str | SecretStr, uidls: Iterable[str]
) -> list[str]:
    """Delete the given (already stored) mails from a POP3 server; return the UIDLs deleted.

    Does nothing and returns ``[]`` unless ``account.delete_after_fetch``. UIDLs no longer on the
    server are skipped, so calling it again is safe. Deletion takes effect at QUIT; if the
    connection fails before, nothing is deleted.
    """
    wanted = set(uidls)
    if not account.delete_after_fetch or not wanted:
        return []
    conn = _pop3_connect(account, password)
    try:
        deleted = []
        for uidl, num in _uidl_map(conn, account).items():
            if uidl in wanted:
                with _guard(account, f"DELE {num}"):
                    conn.dele(num)
                deleted.append(uidl)
        with _guard(account, "QUIT"):
            conn.quit()
        log.info("%s: deleted %d mail(s)", _where(account), len(deleted))
        return deleted
    finally:
        _pop3_close(conn)  # without QUIT (on error) the server keeps every mail
