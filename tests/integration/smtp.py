"""A real SMTP server (aiosmtpd) on 127.0.0.1 for integration tests.

``SmtpServer`` runs aiosmtpd's threaded ``Controller`` on a free port, plain, with STARTTLS
(required before MAIL) or with implicit TLS, optionally with AUTH PLAIN/LOGIN for one user.
TLS uses a self-signed certificate for ``127.0.0.1``/``localhost`` made by ``openssl`` (like
tests/integration/dovecot.py). Every accepted message is recorded as a :class:`Received`;
tests can make the next DATA fail (:meth:`SmtpServer.fail_next`), refuse recipients
(``refuse_rcpt``) or act at the moment a message is stored, before the final 250 reply is sent
(``on_data``; when it raises, the connection is dropped without a reply).
"""

from __future__ import annotations

import logging
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from appliance.settings import SmtpSettings
from tests.helpers import free_port

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class Received:
    """One message the server accepted (``data`` as sent, dot-unstuffed, CRLF line ends)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: Any  # (host, port) of the client


def make_certificate(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 in ``workdir`` (reused when present)."""
    crt, key = workdir / "smtp-tls.crt", workdir / "smtp-tls.key"
    if not (crt.is_file() and key.is_file()):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key), "-out", str(crt)],
            check=True, capture_output=True,
        )  # fmt: skip
    return crt, key


class _Handler:
    """aiosmtpd handler hooks; the state lives in the ``SmtpServer``."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.owner.refuse_rcpt.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.owner._data(server, session, envelope)


class SmtpServer:
    """Start/stop an aiosmtpd server on 127.0.0.1; use as a context manager.

    ``workdir`` holds the certificate and the password file; default: a temporary directory.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        security: Security = "none",
        auth: tuple[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.security: Security = security
        self.auth = auth
        self.port = 0
        # Called in the server's thread after a message is stored, before its 250 reply.
        self.on_data: Callable[[Received], None] | None = None
        # Recipient address -> full reply line, e.g. "550 5.1.1 no such user".
        self.refuse_rcpt: dict[str, str] = {}
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._controller: Controller | None = None
        self._cond = threading.Condition()
        self._messages: list[Received] = []
        self._failures: list[tuple[int, str]] = []

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-test-")
            self._workdir = Path(self._tmp.name)
        self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    @property
    def cert_file(self) -> Path:
        """The server's certificate (PEM), usable as ``ca_file``; TLS modes only."""
        return self.workdir / "smtp-tls.crt"

    @property
    def password(self) -> str | None:
        return self.auth[1] if self.auth else None

    @property
    def password_file(self) -> Path:
        return self.workdir / f"smtp-password-{self.port}"

    def _smtp_kwargs(self) -> tuple[ssl.SSLContext | None, dict[str, Any]]:
        kwargs: dict[str, Any] = {"server_hostname": "smtp.test"}
        ctx = None
        if self.security != "none":
            crt, key = make_certificate(self.workdir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(crt, key)
        if self.security == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        if self.auth is not None:
            # aiosmtpd only counts STARTTLS as TLS; with implicit TLS the link is encrypted too.
            kwargs.update(
                authenticator=self._authenticate, auth_require_tls=self.security == "starttls"
            )
        return (ctx if self.security == "ssl" else None), kwargs

    def start(self) -> SmtpServer:
        ssl_context, kwargs = self._smtp_kwargs()
        for attempt in range(5):  # the free port may be taken in between: try another
            port = free_port()
            controller = Controller(
                _Handler(self), hostname=self.host, port=port, ssl_context=ssl_context, **kwargs
            )
            try:
                controller.start()
            except OSError:
                if attempt == 4:
                    raise
                continue
            self._controller, self.port = controller, port
            break
        if self.auth is not None:
            self.password_file.write_text(self.auth[1])
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- server side -----------------------------------------------------------------------
    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            self.auth is not None
            and isinstance(data, LoginPassword)
            and (data.login, data.password) == tuple(s.encode() for s in self.auth)
        )
        return AuthResult(success=ok, handled=False)

    def _data(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._cond:
            if self._failures:
                code, text = self._failures.pop(0)
                return f"{code} {text}"
            received = Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                peer=session.peer,
            )
            self._messages.append(received)
            self._cond.notify_all()
        hook = self.on_data
        if hook is not None:
            try:
                hook(received)
            except Exception as exc:
                log.info("on_data raised %r: dropping the connection without a reply", exc)
                if server.transport is not None:
                    server.transport.abort()  # type: ignore[attr-defined]
                return "421 4.3.0 connection dropped"  # never reaches the client
        return "250 2.0.0 Ok: queued"

    # -- for tests -------------------------------------------------------------------------
    @property
    def messages(self) -> list[Received]:
        """A snapshot of the messages received so far."""
        with self._cond:
            return list(self._messages)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        """The messages once at least ``n`` arrived; AssertionError after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= n, timeout):
                raise AssertionError(
                    f"SMTP test server {self.host}:{self.port}: expected at least {n} "
                    f"message(s) within {timeout}s, got {len(self._messages)}"
                )
            return list(self._messages)

    def fail_next(self, code: int, text: str, count: int = 1) -> None:
        """Answer the message data of the next ``count`` DATA commands with ``code text``."""
        with self._cond:
            self._failures.extend([(code, text)] * count)

    def clear(self) -> None:
        """Forget received messages, pending failures, refused recipients and ``on_data``."""
        with self._cond:
            self._messages.clear()
            self._failures.clear()
        self.refuse_rcpt.clear()
        self.on_data = None

    def settings(self, **overrides: Any) -> SmtpSettings:
        """``SmtpSettings`` for this server (no TLS verification; the password in a file)."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "username": self.auth[0] if self.auth else "",
            "password_file": self.password_file if self.auth else None,
            "verify_tls": False,
            "timeout_s": 5.0,
        }
        values.update(overrides)
        return SmtpSettings.model_validate(values)
