"""``appliance backup`` / ``appliance restore``: one archive with everything a box needs back.

What goes in (``<name>.tar.gz``):

- ``db/``: the database as ``EXPORT DATABASE … (FORMAT PARQUET)``, a consistent snapshot taken
  inside one transaction of the DB owner. Parquet plus ``schema.sql`` also survives a DuckDB
  upgrade, which a copied database file may not.
- ``blobs/``: the raw mails (the source of truth). Blobs are immutable and written before the
  mail is recorded, so taking them *after* the snapshot covers every mail the snapshot knows.
- ``adapters/`` and ``adapters.json``: the trained LoRA adapters and which one is active.
- ``config/``: the configuration file in use (if any) and the effective settings as JSON.
  Secrets are never in either (they come from environment variables or credential files).
- ``manifest.json``: format version, schema version, row counts, sha256 of every member.

Restore checks every checksum first, sets an existing database aside (never deletes it) and
imports the snapshot into a fresh file; newer migrations then apply as on any start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from appliance.adapters import adapters_dir, registry_path
from appliance.errors import ApplianceError, ConfigError, InvalidRequest
from appliance.settings import Settings
from appliance.store.db import Database

log = logging.getLogger(__name__)

FORMAT = 1
_COUNTED = ("mails", "offers", "offer_items", "corrections", "outbox", "users")


class BackupError(ApplianceError):
    """A backup cannot be written or an archive cannot be restored."""

    code = "backup_error"
    http_status = 500


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _export_db(db: Database, dest: Path) -> dict[str, Any]:
    """Snapshot the database into ``dest`` (inside the owner's lock: one consistent state)."""
    with db.lock:
        db.con.execute(f"EXPORT DATABASE '{dest}' (FORMAT PARQUET)")
        version = db.con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        counts = {}
        for table in _COUNTED:
            row = db.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
    return {"schema_version": int(version[0]) if version and version[0] else 0, "rows": counts}


def create_backup(
    settings: Settings, db: Database, out: Path, *, config_file: Path | None = None
) -> BackupResult:
    """Write the archive ``out`` (a ``.tar.gz``) from an open database (the owner's)."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="appliance-backup-", dir=out.parent) as tmp:
        stage = Path(tmp)
        info = _export_db(db, stage / "db")
        members: dict[str, Path] = {
            f"db/{p.name}": p for p in sorted((stage / "db").iterdir()) if p.is_file()
        }
        blob_root = settings.paths.blob_dir
        if blob_root.is_dir():
            for p in sorted(blob_root.rglob("*.eml")):
                members[f"blobs/{p.relative_to(blob_root)}"] = p
        ad = adapters_dir(settings)
        if ad.is_dir():
            for p in sorted(ad.rglob("*")):
                if p.is_file():
                    members[f"adapters/{p.relative_to(ad)}"] = p
        reg = registry_path(settings)
        if reg.is_file():
            members["adapters.json"] = reg
        cfg = stage / "settings.json"
        cfg.write_text(settings.model_dump_json(indent=2))
        members["config/settings.json"] = cfg
        if config_file is not None and config_file.is_file():
            members[f"config/{config_file.name}"] = config_file
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "duckdb": duckdb.__version__,
            **info,
            "blobs": sum(1 for m in members if m.startswith("blobs/")),
            "adapters": sorted(
                {m.split("/")[1] for m in members if m.startswith("adapters/") and m.count("/") > 1}
            ),
            "files": {name: _sha256(p) for name, p in members.items()},
        }
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=2).encode()
            ti = tarfile.TarInfo("manifest.json")
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
            for name, p in members.items():
                tar.add(p, arcname=name, recursive=False)
        partial.replace(out)
    log.info("backup written: %s (%d files)", out, len(manifest["files"]))
    return BackupResult(out, manifest)


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    out = []
    for m in tar.getmembers():
        p = Path(m.name)
        if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
            raise BackupError(f"archive member {m.name!r} is not allowed (path or type)")
        out.append(m)
    return out


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of an archive (without extracting it)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            fh = tar.extractfile("manifest.json")
            if fh is None:
                raise BackupError(f"{archive}: no manifest.json")
            manifest: dict[str, Any] = json.loads(fh.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{archive} is not a readable backup archive: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: backup format {manifest.get('format')} is not {FORMAT}")
    return manifest


def restore_backup(settings: Settings, archive: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore an archive into this installation's data dir (the server must be stopped).

    An existing database is renamed ``appliance.duckdb.before-restore-<time>`` (only with
    ``force``); blobs and adapters are added beside the existing ones.
    """
    manifest = read_manifest(archive)
    db_file = settings.paths.db_file
    if db_file.exists() and not force:
        raise ConfigError(
            f"{db_file} exists; restore with --force to set it aside and restore over it"
        )
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="appliance-restore-", dir=db_file.parent) as tmp:
        stage = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(stage, members=_safe_members(tar), filter="data")
        for name, digest in manifest["files"].items():
            p = stage / name
            if not p.is_file() or _sha256(p) != digest:
                raise BackupError(f"{archive}: {name} is missing or damaged (checksum mismatch)")
        fresh = db_file.with_name(db_file.name + ".restoring")
        fresh.unlink(missing_ok=True)
        con = duckdb.connect(str(fresh))
        try:
            con.execute(f"IMPORT DATABASE '{stage / 'db'}'")
        finally:
            con.close()
        aside = None
        if db_file.exists():
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = db_file.with_name(f"{db_file.name}.before-restore-{stamp}")
            try:
                # A running server holds the lock: opening it tells before anything moves.
                duckdb.connect(str(db_file)).close()
            except duckdb.IOException as exc:
                fresh.unlink(missing_ok=True)
                raise BackupError(
                    f"{db_file} is in use (stop `appliance server` before restoring): {exc}"
                ) from exc
            db_file.replace(aside)
            wal = db_file.with_name(db_file.name + ".wal")
            if wal.exists():
                wal.replace(aside.with_name(aside.name + ".wal"))
        fresh.replace(db_file)
        copied = 0
        targets = {"blobs": settings.paths.blob_dir, "adapters": adapters_dir(settings)}
        for sub, target in targets.items():
            src = stage / sub
            if not src.is_dir():
                continue
            for p in src.rglob("*"):
                if p.is_file():
                    dest = target / p.relative_to(src)
                    if not dest.exists():
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(p, dest)
                        copied += 1
        if (stage / "adapters.json").is_file():
            registry_path(settings).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(stage / "adapters.json", registry_path(settings))
    db = Database.open(db_file)  # applies migrations newer than the backup's schema
    try:
        rows = {t: int(db.scalar(f"SELECT count(*) FROM {t}")) for t in _COUNTED}
    finally:
        db.close()
    if rows != manifest["rows"]:
        raise BackupError(f"restored row counts {rows} differ from the backup's {manifest['rows']}")
    return {
        "restored": str(archive),
        "db": str(db_file),
        "set_aside": str(aside) if aside else None,
        "rows": rows,
        "files_copied": copied,
        "schema_version": manifest["schema_version"],
    }


def default_archive(settings: Settings, label: str = "backup") -> Path:
    """``<data_dir>/backups/<label>-<UTC time>.tar.gz``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.paths.resolve(settings.paths.data_dir) / "backups" / f"{label}-{stamp}.tar.gz"


def _locked(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def run_backup(
    settings: Settings, out: Path | None, *, config_file: Path | None, api_token: str | None
) -> dict[str, Any]:
    """Back up with the database opened here, or, while ``appliance server`` holds it, ask the
    server to write the archive (``POST /api/v1/admin/backup``, an admin token)."""
    try:
        db = Database.open(settings.paths.db_file)
    except duckdb.Error as exc:
        if not _locked(exc):
            raise BackupError(f"cannot open {settings.paths.db_file}: {exc}") from exc
        return _backup_through_server(settings, out, api_token)
    try:
        result = create_backup(
            settings, db, out or default_archive(settings), config_file=config_file
        )
    finally:
        db.close()
    return {"path": str(result.path), **_summary(result.manifest)}


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    keys = ("schema_version", "rows", "blobs", "adapters")
    return {k: manifest[k] for k in keys}


def _backup_through_server(
    settings: Settings, out: Path | None, api_token: str | None
) -> dict[str, Any]:
    import httpx

    if not api_token:
        raise BackupError(
            "the server holds the database: set APPLIANCE_API_TOKEN to an admin token (the"
            " server then writes the backup), or stop `appliance server` first"
        )
    if out is not None and out.resolve().parent != default_archive(settings).parent:
        raise BackupError(
            f"while the server runs it writes backups only into {default_archive(settings).parent}"
        )
    host = "127.0.0.1" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    url = f"http://{host}:{settings.server.port}/api/v1/admin/backup"
    body = {"name": out.name} if out is not None else {}
    try:
        resp = httpx.post(
            url, json=body, headers={"Authorization": f"Bearer {api_token}"}, timeout=3600
        )
    except httpx.HTTPError as exc:
        raise BackupError(
            f"the database is locked and the server at {url} does not answer: {exc}"
        ) from exc
    if resp.status_code != 201:
        raise BackupError(
            f"the server refused the backup (HTTP {resp.status_code})", detail=resp.text
        )
    result: dict[str, Any] = resp.json()
    return result


def backup_in_server(settings: Settings, db: Database, name: str | None) -> dict[str, Any]:
    """The server side of an online backup: the archive goes into the data dir's backups/."""
    out = default_archive(settings)
    if name:
        if Path(name).name != name or not name.endswith(".tar.gz"):
            raise InvalidRequest(
                f"backup name {name!r} must be a plain file name ending in .tar.gz"
            )
        out = out.parent / name
    result = create_backup(settings, db, out)
    return {"path": str(result.path), **_summary(result.manifest)}


def db_schema_version(settings: Settings) -> int | None:
    """The schema version recorded in this installation's database (None: no database, or it
    is held by a running server)."""
    if not settings.paths.db_file.exists():
        return None
    try:
        con = duckdb.connect(str(settings.paths.db_file), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return int(row[0]) if row and row[0] is not None else None
