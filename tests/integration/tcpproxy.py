"""A TCP proxy on loopback for chaos tests: a real network outage as the client sees it.

``TcpProxy(host, port)`` forwards ``127.0.0.1:<proxy.port>`` to the target. ``close()`` stops
listening and resets every open connection (connection refused from then on); ``open()``
listens again on the same port. ``cut(after_bytes, times)`` drops each of the next ``times``
connections once the server has sent ``after_bytes`` through it (mid-response, e.g. mid-FETCH).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from tests.helpers import free_port


class TcpProxy:
    """Forward one loopback port to a target; close, reopen and cut connections at will."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._cut_after: int | None = None
        self._cuts_left = 0
        self.cuts_done = 0
        self.connections = 0

    def __enter__(self) -> TcpProxy:
        self.open()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Listen (again) on ``self.port``."""
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def close(self) -> None:
        """Stop listening and reset every open connection."""
        with self._lock:
            ls, self._listener = self._listener, None
            conns, self._conns = list(self._conns), set()
        if ls is not None:
            with contextlib.suppress(OSError):
                ls.shutdown(socket.SHUT_RDWR)
            ls.close()
        for c in conns:
            self._kill(c)

    def cut(self, after_bytes: int, times: int = 1) -> None:
        """Drop the next ``times`` connections after ``after_bytes`` from the server."""
        with self._lock:
            self._cut_after, self._cuts_left = after_bytes, times

    @staticmethod
    def _kill(s: socket.socket) -> None:
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._kill(client)
                continue
            with self._lock:
                if self._listener is not ls:
                    self._kill(client)
                    self._kill(upstream)
                    return
                self.connections += 1
                limit: int | None = None
                if self._cuts_left > 0:
                    self._cuts_left -= 1
                    limit = self._cut_after
                self._conns.update((client, upstream))
            pair = (client, upstream)
            threading.Thread(target=self._pump, args=(client, upstream, None, pair),
                             daemon=True).start()  # fmt: skip
            threading.Thread(target=self._pump, args=(upstream, client, limit, pair),
                             daemon=True).start()  # fmt: skip

    def _pump(
        self,
        src: socket.socket,
        dst: socket.socket,
        limit: int | None,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: max(limit - sent, 0)])
                    with self._lock:
                        self.cuts_done += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        with self._lock:
            self._conns.difference_update(pair)
        for s in pair:
            self._kill(s)
