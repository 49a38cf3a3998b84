"""A real Dovecot (IMAP + POP3) on loopback for integration tests.

``Dovecot`` writes its own configuration into a temporary directory (never /etc/dovecot), runs
``dovecot -F -c CONF`` as a child process, waits until both ports accept connections and stops it
again. One user with a generated password, passwd-file auth, maildir storage in the temp dir,
plaintext logins allowed (loopback only). With ``tls=True`` it also serves IMAPS and POP3S (and
STARTTLS/STLS on the plain ports) with a self-signed certificate made by ``openssl``.

Written for Dovecot 2.3 (Debian 12: 2.3.19). Run as root, the login processes use ``dovenull``
and mail is accessed as ``dovecot`` (Dovecot refuses UID 0 for mail access); run as another user,
every process runs as that user and chroots are turned off.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

from appliance.settings import AccountSettings
from tests.helpers import free_port

PASSWORD_ENV = "APPLIANCE_TEST_DOVECOT_PASSWORD"


class DovecotError(RuntimeError):
    """Dovecot could not be started; the message carries the tail of its log."""


def find_dovecot() -> str | None:
    """Path of the ``dovecot`` binary (also looked up in /usr/sbin, often not on PATH)."""
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


def _wait_port(port: int, deadline: float, greeting: bool = True) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.settimeout(2)
                if not greeting or s.recv(64):  # the greeting: the login process is up
                    return True
        except OSError:
            time.sleep(0.1)
    return False


class Dovecot:
    """Start/stop a private Dovecot; use as a context manager."""

    def __init__(
        self, binary: str | None = None, user: str = "supplier", *, tls: bool = False
    ) -> None:
        self.tls = tls
        self.imaps_port = 0
        self.pop3s_port = 0
        self.binary = binary or find_dovecot() or "dovecot"
        self.user = user
        self.password = secrets.token_urlsafe(12)
        self.host = "127.0.0.1"
        self.imap_port = 0
        self.pop3_port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- paths -----------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        assert self._tmp is not None, "Dovecot not started"
        return Path(self._tmp.name)

    @property
    def conf_file(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def maildir(self) -> Path:
        return self.root / "mail" / self.user / "Maildir"

    def folder_dir(self, folder: str) -> Path:
        """The maildir++ directory of ``folder`` (INBOX is the Maildir root)."""
        return self.maildir if folder.upper() == "INBOX" else self.maildir / f".{folder}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no dovecot log)"

    # -- lifecycle -------------------------------------------------------------------------
    def _users(self) -> tuple[str, str, int, int]:
        """(internal user, login user, mail uid, mail gid) for the current effective user."""
        if os.geteuid() == 0:
            mail = pwd.getpwnam("dovecot")
            return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid

    def _write_config(self) -> None:
        internal, login, uid, gid = self._users()
        root = self.root
        (root / "run").mkdir()
        (root / "state").mkdir()
        home = root / "mail" / self.user
        home.mkdir(parents=True)
        os.chown(root / "mail", uid, gid)
        os.chown(home, uid, gid)
        os.chmod(root, 0o755)  # mail user and login user must traverse it
        passwd = root / "passwd"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        ssl = "no"
        if self.tls:
            self._make_certificate()
            ssl = f"yes\nssl_cert = <{root}/tls.crt\nssl_key = <{root}/tls.key"
        internal_group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
        # chroot needs root; as another user every service runs unchrooted.
        chroot, anvil_chroot = ("login", "empty") if os.geteuid() == 0 else ("", "")
        self.conf_file.write_text(
            f"""# generated by tests/integration/dovecot.py
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_file}
protocols = imap pop3
listen = 127.0.0.1
ssl = {ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
mail_location = maildir:~/Maildir
mail_fsync = never
pop3_uidl_format = %08Xu%08Xv
mail_max_userip_connections = 100
auth_failure_delay = 0
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}
}}
# No auth penalty: the tests' deliberate wrong passwords would slow every later login.
service anvil {{
  chroot = {anvil_chroot}
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot = {chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
  }}
}}
service pop3-login {{
  chroot = {chroot}
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.pop3s_port}
  }}
}}
"""
        )

    def _make_certificate(self) -> None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(self.root / "tls.key"), "-out", str(self.root / "tls.crt")],
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self, timeout_s: float = 20.0) -> Dovecot:
        """Write the config, start ``dovecot -F`` and wait until IMAP and POP3 answer."""
        self._tmp = tempfile.TemporaryDirectory(prefix="dovecot-test-")
        self.imap_port, self.pop3_port = free_port(), free_port()
        if self.tls:
            self.imaps_port, self.pop3s_port = free_port(), free_port()
        self._write_config()
        self._proc = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        ports = [self.imap_port, self.pop3_port]
        if self.tls:
            ports += [self.imaps_port, self.pop3s_port]
        for port in ports:
            tls_port = port in (self.imaps_port, self.pop3s_port)
            if (
                not _wait_port(port, deadline, greeting=not tls_port)
                or self._proc.poll() is not None
            ):
                out = b""
                if self._proc.poll() is not None and self._proc.stdout is not None:
                    out = self._proc.stdout.read()
                self.stop()
                raise DovecotError(
                    f"dovecot did not come up on 127.0.0.1:{port}\n"
                    f"output: {out.decode(errors='replace')}\nlog:\n{self.log_tail()}"
                )
        return self

    def stop(self) -> None:
        """Stop the master process (it ends its children) and remove the temp dir."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers for tests -----------------------------------------------------------------
    def account(self, protocol: str = "imap", **overrides: object) -> AccountSettings:
        """Settings for the test user; the password is read from ``PASSWORD_ENV``."""
        os.environ[PASSWORD_ENV] = self.password
        security = str(overrides.get("security", "none"))
        if security == "ssl":
            port = self.imaps_port if protocol == "imap" else self.pop3s_port
        else:
            port = self.imap_port if protocol == "imap" else self.pop3_port
        values: dict[str, object] = {
            "name": f"test-{protocol}",
            "protocol": protocol,
            "host": self.host,
            "port": port,
            "security": security,
            "username": self.user,
            "password_env": PASSWORD_ENV,
            "timeout_s": 10.0,
        }
        values.update(overrides)
        return AccountSettings.model_validate(values)

    def client(self, folder: str | None = None, readonly: bool = False) -> IMAPClient:
        """A logged-in IMAP connection for test set-up (caller logs out)."""
        c = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        c.login(self.user, self.password)
        if folder is not None:
            c.select_folder(folder, readonly=readonly)
        return c

    def append(self, raw: bytes, folder: str = "INBOX", flags: tuple[bytes, ...] = ()) -> None:
        """Add one mail to ``folder`` (created when missing) via IMAP APPEND."""
        c = self.client()
        try:
            if folder.upper() != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, raw, flags=flags)
        finally:
            c.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID → flags of every mail in ``folder`` (read-only, changes nothing)."""
        c = self.client(folder, readonly=True)
        try:
            return {uid: tuple(f) for uid, f in c.get_flags(c.search(["ALL"])).items()}
        finally:
            c.logout()

    def uidvalidity(self, folder: str = "INBOX") -> int:
        c = self.client()
        try:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])
        finally:
            c.logout()

    def count(self, folder: str = "INBOX") -> int:
        c = self.client()
        try:
            return int(c.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])
        finally:
            c.logout()

    def clear(self, folder: str = "INBOX") -> None:
        """Expunge every mail in ``folder`` (UIDs keep counting up)."""
        c = self.client(folder)
        try:
            uids = c.search(["ALL"])
            if uids:
                c.delete_messages(uids)
                c.expunge()
        finally:
            c.logout()

    def reset_uidvalidity(self, folder: str = "INBOX", timeout_s: float = 10.0) -> int:
        """Make the server report a new UIDVALIDITY for ``folder``, its mails renumbered.

        Dovecot rebuilds the maildir's ``dovecot-uidlist`` (new UIDVALIDITY, UIDs from 1) when
        it and the index files are gone. Call it with no IMAP session open on the folder.
        Returns the new UIDVALIDITY.
        """
        old = self.uidvalidity(folder)
        base = self.folder_dir(folder)
        for name in (
            "dovecot-uidlist",
            "dovecot.index",
            "dovecot.index.log",
            "dovecot.index.cache",
        ):
            with contextlib.suppress(FileNotFoundError):
                (base / name).unlink()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            new = self.uidvalidity(folder)
            if new != old:
                return new
            time.sleep(0.2)
        raise DovecotError(f"UIDVALIDITY of {folder} stayed {old}\n{self.log_tail()}")
