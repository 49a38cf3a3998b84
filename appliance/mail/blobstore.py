"""Content-addressed store of raw mails: the source of truth, written before anything else.

Each mail is kept once, as ``<root>/<aa>/<bb>/<sha256>.eml``, written atomically (temporary
file, fsync, rename), so a crash never leaves a half-written blob under its final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from appliance.errors import PermanentError


class BlobMissing(PermanentError):
    code = "blob_missing"


class BlobStore:
    """Raw mails by sha256 under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.eml"

    def put(self, raw: bytes) -> str:
        """Store ``raw`` (if not yet there) and return its sha256."""
        digest = hashlib.sha256(raw).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        """Return the raw mail; ``BlobMissing`` when it is not (or no longer) stored."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(f"raw mail {sha256} is not in the blob store {self.root}") from exc

    def __contains__(self, sha256: str) -> bool:
        return self.path(sha256).exists()
