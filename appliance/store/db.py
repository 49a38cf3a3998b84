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


class Database:
    """A DuckDB connection guarded by a lock, with the schema migrated on open."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | None) -> Database:
        """Open (or create) the database file and apply pending migrations; ``None`` = memory."""
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path) if path else ":memory:")
        db = cls(con, path)
        db.migrate()
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
