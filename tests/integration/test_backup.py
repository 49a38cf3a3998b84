"""``appliance backup`` while the server runs (the server writes it) and ``restore`` elsewhere:
the restored installation serves the same offers, corrections and raw mails."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.settings import load_settings
from tests.integration.seed import Seeder, seed_standard
from tests.integration.services import Appliance, RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance.cli", *args], env=env, capture_output=True, text=True
    )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Appliance]:
    redis = RedisServer(tmp_path)
    a = Appliance(tmp_path / "a", {"APPLIANCE_REDIS__URL": redis.url})
    with Seeder.for_appliance(a) as s:
        seed_standard(s)
    a.start("server")
    try:
        yield a
    finally:
        a.stop_all()
        redis.stop()


def test_online_backup_and_restore_elsewhere(app: Appliance, tmp_path: Path) -> None:
    offers = app.get("/api/v1/offers", limit=50)
    assert offers["total"] == 4
    # A correction, so that the backup holds reviewers' work too.
    first = offers["items"][0]["id"]
    fix = {"fields": {"payment_terms": "45 days net"}, "comment": "phone call"}
    r = app.request("POST", f"/api/v1/offers/{first}/corrections", json=fix)
    assert r.status_code == 200, r.text

    # The server holds the database: without a token the CLI says what to do.
    refused = _cli(app.env, "backup")
    assert refused.returncode == 2 and "APPLIANCE_API_TOKEN" in refused.stderr
    done = _cli({**app.env, "APPLIANCE_API_TOKEN": app.token or ""}, "backup")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    archive = Path(result["path"])
    assert archive.is_file() and archive.parent.name == "backups"
    assert result["rows"]["offers"] == 4 and result["rows"]["corrections"] >= 1
    assert result["blobs"] == result["rows"]["mails"] == 5
    # A path outside backups/ is refused; a token without the admin scope too.
    bad = app.request("POST", "/api/v1/admin/backup", json={"name": "../x.tar.gz"})
    assert bad.status_code == 400 and "plain file name" in bad.text

    # Restore into another installation and serve it (this one stopped: one Redis).
    app.stop_all()
    other = Appliance(tmp_path / "b", {"APPLIANCE_REDIS__URL": app.env["APPLIANCE_REDIS__URL"]})
    restored = _cli(other.env, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["rows"] == result["rows"]
    version = json.loads(_cli(other.env, "version", "--json").stdout)
    assert version["db_schema"] == version["schema"]
    other.start("server")  # a new token in the restored database, then the server
    try:
        again = other.get("/api/v1/offers", limit=50)
        assert [o["id"] for o in again["items"]] == [o["id"] for o in offers["items"]]
        detail = other.get(f"/api/v1/offers/{first}")
        assert detail["payment_terms"] == "45 days net"
        assert other.get("/api/v1/corrections", offer_id=first)["total"] >= 1
        mail_id = detail["source_mail_ids"][0]
        raw = other.request("GET", f"/api/v1/mails/{mail_id}/raw")
        assert raw.status_code == 200 and b"\nFrom: " in b"\n" + raw.content
        assert len(list(load_settings(env=other.env).paths.blob_dir.rglob("*.eml"))) == 5
    finally:
        other.stop_all()
