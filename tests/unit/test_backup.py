"""``appliance backup`` / ``restore``: a round trip gives back the same rows, mails and adapters."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from appliance.adapters import adapters_dir, registry_path
from appliance.backup import BackupError, create_backup, read_manifest, restore_backup
from appliance.errors import ConfigError
from appliance.mail.blobstore import BlobStore
from appliance.messages import ExtractionOutcome, MailMeta, RecordMail
from appliance.settings import PathsSettings, Settings
from appliance.store import queries, repo
from appliance.store.db import Database
from appliance.workflow import dialogue


def _settings(root: Path) -> Settings:
    return Settings(paths=PathsSettings(data_dir=root / "var", models_dir=root / "models"))


def _fill(s: Settings) -> Database:
    db = Database.open(s.paths.db_file)
    blobs = BlobStore(s.paths.blob_dir)
    for n in range(3):
        raw = f"From: s{n}@x.example\r\nSubject: Offer {n}\r\n\r\nBolts {n}, 1.5 EUR\r\n".encode()
        sha = blobs.put(raw)
        msg = RecordMail(
            key=f"acc/INBOX/1/{n}", account="acc", folder="INBOX", uidvalidity=1, uid=str(n),
            sha256=sha, size=len(raw), meta=MailMeta(subject=f"Offer {n}",
                                                     from_addr=f"s{n}@x.example"),
        )  # fmt: skip
        mail_id = repo.record_mail(db, msg).mail_id
        offer = {
            "supplier": {"name": None, "email": f"s{n}@x.example"},
            "items": [{"product_name": f"Bolts {n}", "unit_price": 1.5, "currency": "EUR"}],
            "language": "en",
        }
        dialogue.save_extraction(
            db, s, ExtractionOutcome(mail_id=mail_id, sha256=sha, offer=offer, model="m")
        )
    ad = adapters_dir(s) / "offers-v1"
    ad.mkdir(parents=True)
    (ad / "adapter_model.safetensors").write_bytes(b"\x00" * 64)
    (ad / "manifest.json").write_text("{}")
    registry_path(s).write_text(json.dumps({"active": "offers-v1", "history": []}))
    return db


def test_round_trip(tmp_path: Path) -> None:
    src = _settings(tmp_path / "a")
    db = _fill(src)
    before = queries.list_offers(db, limit=50)
    result = create_backup(src, db, tmp_path / "b.tar.gz")
    db.close()
    m = read_manifest(result.path)
    assert m["rows"]["mails"] == 3 and m["rows"]["offers"] == 3 and m["blobs"] == 3
    assert m["adapters"] == ["offers-v1"]

    dst = _settings(tmp_path / "c")
    out = restore_backup(dst, result.path)
    assert out["rows"] == m["rows"] and out["set_aside"] is None
    db2 = Database.open(dst.paths.db_file)
    try:
        assert queries.list_offers(db2, limit=50) == before
        sha = db2.scalar("SELECT sha256 FROM mails ORDER BY id LIMIT 1")
        assert BlobStore(dst.paths.blob_dir).get(sha).startswith(b"From: s0@")
        # Sequences continue after the restored ids: no id is handed out twice.
        assert db2.scalar("SELECT nextval('offer_id_seq')") == 4
    finally:
        db2.close()
    assert json.loads(registry_path(dst).read_text())["active"] == "offers-v1"
    assert (adapters_dir(dst) / "offers-v1" / "adapter_model.safetensors").stat().st_size == 64

    with pytest.raises(ConfigError, match="--force"):
        restore_backup(dst, result.path)
    again = restore_backup(dst, result.path, force=True)
    assert again["set_aside"] and Path(again["set_aside"]).exists()


def test_damaged_archive_is_refused(tmp_path: Path) -> None:
    src = _settings(tmp_path / "a")
    db = _fill(src)
    good = create_backup(src, db, tmp_path / "b.tar.gz").path
    db.close()
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(good) as tin, tarfile.open(bad, "w:gz") as tout:
        for member in tin.getmembers():
            fh = tin.extractfile(member)
            data = fh.read() if fh else b""
            if member.name.startswith("blobs/"):
                data = data.replace(b"Bolts", b"Nails")
            member.size = len(data)

            tout.addfile(member, io.BytesIO(data))
    dst = _settings(tmp_path / "c")
    with pytest.raises(BackupError, match="checksum"):
        restore_backup(dst, bad)
    assert not dst.paths.db_file.exists()
