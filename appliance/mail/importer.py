"""``appliance import``: .eml files, folders and mbox files into the pipeline (backfills, demos)."""

from __future__ import annotations

from pathlib import Path

from appliance.extract.batch import iter_mail_files
from appliance.jobs.actors import connect
from appliance.mail.intake import import_key, ingest
from appliance.settings import Settings


def import_paths(paths: list[Path], settings: Settings, *, account: str = "import") -> int:
    """Store every mail in the blob store and send it to the DB owner; returns the count.

    Keyed by content, so importing the same file twice records it once.
    """
    broker, rt = connect(settings)
    n = 0
    try:
        for _name, raw in iter_mail_files(paths):
            folder, validity, uid = import_key(raw)
            msg = ingest(
                raw, rt.blobs, account=account, folder=folder, uidvalidity=validity, uid=uid
            )
            rt.send("record_mail", msg.model_dump(mode="json"))
            n += 1
    finally:
        broker.close()
    return n
