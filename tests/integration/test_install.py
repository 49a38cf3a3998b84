"""The offline installation for IT: bundle → install → upgrade (with backup) → rollback.

Runs the real scripts (install/make-bundle.sh, install/install.sh) with the real pip, offline
(``--no-index``) from the bundle's wheels, into a temporary prefix. systemd, apt and the service
user are left out (``--no-systemd --no-apt --no-user``): a test machine has no systemd as PID 1.
The bundle is built without the LLM extras and the model (``--extras none --no-model``) to keep
the test to a few minutes; the full bundle is the same script with its defaults.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def _run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=800)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _relabel(bundle: Path, revision: str) -> None:
    """Turn a copy of the bundle into "another release" (its revision) with valid checksums."""
    version = bundle / "VERSION"
    lines = [
        f"revision={revision}" if line.startswith("revision=") else line
        for line in version.read_text().splitlines()
    ]
    version.write_text("\n".join(lines) + "\n")
    sums = subprocess.run(
        "find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum",
        shell=True, cwd=bundle, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (bundle / "SHA256SUMS").write_text(sums)


def test_bundle_install_upgrade_rollback(tmp_path: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("coreutils sha256sum missing")
    out = tmp_path / "bundle-a"
    python = str(ROOT / ".venv" / "bin" / "python")
    _run([str(ROOT / "install" / "make-bundle.sh"), "--out", str(out), "--extras", "none",
          "--no-model"], env={**os.environ, "PYTHON": python})  # fmt: skip
    assert (out.parent / "bundle-a.tar.gz").is_file()
    assert any(p.name.startswith("supplier_mail_appliance-") for p in (out / "wheels").iterdir())

    prefix, data, etc = tmp_path / "opt", tmp_path / "data", tmp_path / "etc"
    opts = ["--prefix", str(prefix), "--data", str(data), "--etc", str(etc), "--no-systemd",
            "--no-apt", "--no-user", "--profile", "cpu-large"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env["PIP_NO_INDEX"] = "1"  # offline: nothing may come from an index
    _run(["bash", str(out / "install.sh"), "install", *opts], env=env)
    current = prefix / "current"
    assert current.is_symlink()
    appliance = str(current / "venv" / "bin" / "appliance")
    cfg_env = {**env, "APPLIANCE_CONFIG": str(etc / "appliance.toml")}
    cfg = json.loads(_run([appliance, "config"], env=cfg_env))
    assert cfg["paths"]["data_dir"] == str(data)
    assert cfg["worker"]["threads"] == 16  # the cpu-large profile
    # The installed wheel carries its package data (profiles, dashboard templates).
    site = subprocess.run(
        [str(current / "venv" / "bin" / "python"), "-c",
         "import appliance, pathlib; print(pathlib.Path(appliance.__file__).parent)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert (Path(site) / "profiles" / "cpu-large.toml").is_file()
    # A database to carry through the upgrade.
    _run([appliance, "backup", "--out", str(tmp_path / "first.tar.gz")], env=cfg_env)
    version = json.loads(_run([appliance, "version", "--json"], env=cfg_env))
    assert version["db_schema"] == version["schema"]

    upgrade = tmp_path / "bundle-b"
    shutil.copytree(out, upgrade)
    _relabel(upgrade, "nextrev")
    old = current.resolve()
    _run(["bash", str(upgrade / "install.sh"), "upgrade", *opts], env=env)
    assert current.resolve() != old and current.resolve().name.endswith("nextrev")
    assert (prefix / "previous").resolve() == old
    backups = list((data / "backups").glob("pre-upgrade-*.tar.gz"))
    assert len(backups) == 1

    _run(["bash", str(upgrade / "install.sh"), "rollback", *opts], env=env)
    assert current.resolve() == old
    status = _run(["bash", str(upgrade / "install.sh"), "status", *opts], env=env)
    assert "current: " + old.name in status

    damaged = tmp_path / "bundle-c"
    shutil.copytree(out, damaged)
    (damaged / "configs" / "appliance.example.toml").write_text("tampered")
    proc = subprocess.run(["bash", str(damaged / "install.sh"), "upgrade", *opts], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0 and "checksums differ" in proc.stderr
