"""The DuckDB file and its one owner.

Only the server process calls ``Database.open``; DuckDB allows one read-write process per file.
Every statement goes through one lock: the server's request handlers and its store consumer
share one connection.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from appliance.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)


def iso_utc(v: dt.datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as the API shows it: ISO 8601 with ``Z``."""
    return v.isoformat() + "Z" if v else None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_WAL_MARK = ".wal"
# DuckDB errors that say "this process may not open the file", not "the file is damaged".
_NOT_DAMAGE = ("could not set lock", "conflicting lock", "permission denied", "read-only")
# Errors after a successful connect that still mean damage (not, say, a faulty migration).
_DAMAGE = ("corrupt", "checksum", "not a valid duckdb", "replaying wal", "serializ")


@dataclass
class Recovery:
    """What ``Database.open`` did with a file it could not open (shown in /healthz)."""

    at: dt.datetime
    set_aside: list[str]
    errors: list[str]
    lost: str  # "wal": changes since the last checkpoint; "database": everything
    rederived: int | None = None  # mails re-recorded from the blob store, once done

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "recovered",
            "at": iso_utc(self.at),
            "lost": self.lost,
            "set_aside": self.set_aside,
            "errors": self.errors,
            "rederived": self.rederived,
        }


def _is_damage(exc: duckdb.Error, connected: bool) -> bool:
    """Whether ``exc`` says the file is damaged (connect failed, or reading it did)."""
    text = str(exc).lower()
    if any(marker in text for marker in _NOT_DAMAGE):
        return False
    return not connected or any(marker in text for marker in _DAMAGE)


def rederive_marker(db_file: Path) -> Path:
    """The file that says the mails must still be re-derived from the blob store for
    ``db_file`` (written by a recovery, removed by ``store.rederive`` when done)."""
    return db_file.with_name(db_file.name + ".rederive-pending")


def _set_aside(path: Path) -> Path:
    """Rename a damaged file to ``<name>.corrupt-<UTC stamp>`` next to it; returns the new
    path."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(target)
    return target


def _stem(set_aside: str) -> str:
    """The original file name of a set-aside path."""
    return Path(set_aside).name.rpartition(".corrupt-")[0]


class Database:
    """A DuckDB connection guarded by a lock, with the schema migrated on open."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path
        self.lock = threading.RLock()
        # Set when ``open`` had to set a damaged file aside (see ``Recovery``).
        self.recovery: Recovery | None = None

    @classmethod
    def open(cls, path: Path | None, *, recover: bool = False) -> Database:
        """Open (or create) the database file and apply pending migrations; ``None`` = memory.

        With ``recover`` (the server), a file DuckDB cannot open (a WAL it cannot replay, a
        damaged file) is set aside, never deleted: first the WAL alone (the last checkpoint
        survives), then the database file too (an empty database). ``recovery`` then says
        what happened; the caller re-derives the mails from the blob store
        (``store.rederive``). A lock held by another process or a permission problem is not
        damage and is raised as is.
        """
        if path is None:
            db = cls(duckdb.connect(":memory:"), None)
            db.migrate()
            return db
        path.parent.mkdir(parents=True, exist_ok=True)
        set_aside: list[str] = []
        errors: list[str] = []
        # What to set aside, in order: the WAL (keeps the last checkpoint), then the file.
        candidates = [path.with_name(path.name + _WAL_MARK), path]
        while True:
            connected = False
            try:
                db = cls(duckdb.connect(str(path)), path)
                connected = True
                try:
                    db.migrate()
                except BaseException:
                    db.con.close()
                    raise
            except duckdb.Error as exc:
                while candidates and not candidates[0].exists():
                    candidates.pop(0)
                if not recover or not _is_damage(exc, connected) or not candidates:
                    raise
                victim = candidates.pop(0)
                errors.append(f"{type(exc).__name__}: {exc}")
                set_aside.append(str(_set_aside(victim)))
                log.error(
                    "DATABASE RECOVERY: %s cannot be opened (%s); %s set aside as %s, opening %s;"
                    " the mails will be re-derived from the blob store",
                    path, errors[-1], victim.name, set_aside[-1],
                    "the last checkpoint" if victim != path else "an empty database",
                )  # fmt: skip
                continue
            if set_aside:
                rederive_marker(path).write_text(f"{utcnow().isoformat()}Z\n")
                lost = "database" if path.name in map(_stem, set_aside) else "wal"
                db.recovery = Recovery(at=utcnow(), set_aside=set_aside, errors=errors, lost=lost)
            return db

    def close(self) -> None:
        with self.lock:
            try:
                self.con.execute("CHECKPOINT")
            except duckdb.Error:
                log.exception("checkpoint on close failed")
            self.con.close()

    def migrate(self) -> list[int]:
        """Apply the migrations not yet recorded; return the versions applied now."""
        applied: list[int] = []
        with self.lock:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            done = {
                r[0] for r in self.con.execute("SELECT version FROM schema_migrations").fetchall()
            }
            for version, name, sql in MIGRATIONS:
                if version in done:
                    continue
                with self.transaction():
                    self.con.execute(sql)
                    self.con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utcnow()]
                    )
                log.info("applied migration %s: %s", version, name)
                applied.append(version)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts."""
        with self.lock:
            cur = self.con.execute(sql, params or [])
            cols = [d[0] for d in cur.description or []]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        with self.lock:
            row = self.con.execute(sql, params or []).fetchone()
        return row[0] if row else None
