"""``Database.open(recover=True)`` on damaged files, and ``store.rederive`` from the blob store
(real DuckDB files and a real blob store on disk)."""

from __future__ import annotations

import shutil
from email.message import EmailMessage
from pathlib import Path

import duckdb
import pytest

from appliance.mail.blobstore import BlobStore
from appliance.store import rederive
from appliance.store.db import Database, rederive_marker


def _crashed_copy(tmp_path: Path) -> Path:
    """A database file plus a WAL holding one mail row, as a server killed -9 leaves them."""
    live = tmp_path / "live" / "appliance.duckdb"
    db = Database.open(live)
    db.con.execute("CHECKPOINT")
    db.con.execute(
        "INSERT INTO mails (sha256, account, size, state, received_at, updated_at)"
        " VALUES ('a', 'x', 1, 'received', now(), now())"
    )
    crashed = tmp_path / "appliance.duckdb"
    shutil.copy(live, crashed)  # copied while open: the row is only in the WAL
    shutil.copy(live.with_name(live.name + ".wal"), crashed.with_name(crashed.name + ".wal"))
    db.con.close()
    return crashed


def test_a_wal_that_replays_keeps_everything(tmp_path: Path) -> None:
    db = Database.open(_crashed_copy(tmp_path), recover=True)
    assert db.recovery is None
    assert db.scalar("SELECT count(*) FROM mails") == 1


def test_a_damaged_wal_is_set_aside_and_the_checkpoint_opens(tmp_path: Path) -> None:
    path = _crashed_copy(tmp_path)
    wal = path.with_name(path.name + ".wal")
    data = bytearray(wal.read_bytes())
    # Everything after the WAL's first 8 bytes garbled: DuckDB 2.0 refuses this one every time
    # (most smaller damage it ignores without an error: see the silent-loss test below).
    for i in range(8, len(data)):
        data[i] ^= 0x5A
    wal.write_bytes(bytes(data))
    with pytest.raises(duckdb.Error):
        Database.open(path)  # without recover: the error, nothing moved
    assert wal.exists()
    db = Database.open(path, recover=True)
    assert db.recovery is not None and db.recovery.lost == "wal"
    assert db.scalar("SELECT count(*) FROM mails") == 0  # the checkpoint, migrated
    (aside,) = db.recovery.set_aside
    assert Path(aside).read_bytes() == bytes(data) and ".wal.corrupt-" in aside
    assert rederive_marker(path).exists()
    assert db.recovery.as_json()["status"] == "recovered"


def test_a_damaged_file_is_set_aside_and_an_empty_database_opens(tmp_path: Path) -> None:
    path = _crashed_copy(tmp_path)
    with open(path, "r+b") as fh:
        fh.write(b"\0" * 12288)
    db = Database.open(path, recover=True)
    assert db.recovery is not None and db.recovery.lost == "database"
    assert len(db.recovery.set_aside) == 2 and all(Path(p).exists() for p in db.recovery.set_aside)
    assert db.scalar("SELECT count(*) FROM mails") == 0
    assert db.scalar("SELECT max(version) FROM schema_migrations") is not None


def test_a_locked_file_is_not_damage(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "appliance.duckdb"
    Database.open(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r});"
         "print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(duckdb.Error, match="lock"):
            Database.open(path, recover=True)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["appliance.duckdb"]
    finally:
        holder.kill()
        holder.wait(10)


def _mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"s{n}@supplier.example"
    msg["Subject"] = f"offer {n}"
    msg["Message-ID"] = f"<m{n}@supplier.example>"
    msg.set_content(f"Product: thing {n}\n")
    return msg.as_bytes()


def test_rederive_records_each_blob_once_and_queues_its_extraction(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    shas = [blobs.put(_mail(n)) for n in range(3)]
    (tmp_path / "blobs" / "ab").mkdir()
    (tmp_path / "blobs" / "ab" / ".tmp-x").write_bytes(b"half")  # an interrupted write
    path = tmp_path / "appliance.duckdb"
    db = Database.open(path)
    rederive_marker(path).write_text("x")
    queued: list[tuple[int, str]] = []
    assert rederive.run_pending(db, blobs, lambda i, s: queued.append((i, s))) == 3
    assert sorted(s for _, s in queued) == sorted(shas)
    assert not rederive_marker(path).exists()
    rows = db.query("SELECT account, message_id, state FROM mails ORDER BY id")
    assert [r["message_id"] for r in rows] == ["<m0@supplier.example>", "<m1@supplier.example>",
                                                "<m2@supplier.example>"]  # fmt: skip
    assert {r["account"] for r in rows} == {rederive.ACCOUNT}
    # No marker: nothing to do. A second walk records nothing new.
    assert rederive.run_pending(db, blobs, lambda i, s: queued.append((i, s))) is None
    assert rederive.rederive(db, blobs, lambda i, s: None) == 0
    assert db.scalar("SELECT count(*) FROM mails") == 3
    with db.lock:
        assert rederive.refusal(db.con, 1) == rederive.REFUSAL
        assert rederive.refusal(db.con, None) is None


def test_a_wal_lost_silently_is_found_by_the_start_check(tmp_path: Path) -> None:
    """DuckDB opens most damaged WALs without an error and drops what they held; the server's
    start check (blobs the database does not know) brings those mails back."""
    import os

    blobs = BlobStore(tmp_path / "blobs")
    sha = blobs.put(_mail(7))
    live = tmp_path / "live" / "appliance.duckdb"
    db = Database.open(live)
    db.con.execute("CHECKPOINT")
    db.con.execute(
        "INSERT INTO mails (sha256, account, size, state, received_at, updated_at)"
        " VALUES (?, 'x', 1, 'received', now(), now())",
        [sha],
    )
    crashed = tmp_path / "appliance.duckdb"
    shutil.copy(live, crashed)
    wal = crashed.with_name(crashed.name + ".wal")
    shutil.copy(live.with_name(live.name + ".wal"), wal)
    db.con.close()
    data = bytearray(wal.read_bytes())
    for i in range(40, len(data)):
        data[i] ^= 0x5A
    wal.write_bytes(bytes(data))
    db = Database.open(crashed, recover=True)
    assert db.recovery is None  # no error: the loss is silent
    assert db.scalar("SELECT count(*) FROM mails") == 0
    queued: list[tuple[int, str]] = []
    # A young blob may still be on its way to the server: left alone.
    assert rederive.reconcile(db, blobs, lambda i, s: queued.append((i, s))) == 0
    old = blobs.path(sha).stat().st_mtime - 3600
    os.utime(blobs.path(sha), (old, old))
    assert rederive.reconcile(db, blobs, lambda i, s: queued.append((i, s))) == 1
    assert [s for _, s in queued] == [sha]
    assert rederive.reconcile(db, blobs, lambda i, s: None) == 0  # known now
