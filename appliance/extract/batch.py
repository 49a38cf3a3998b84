"""``appliance extract``: many mail files through the extractor at once, so vLLM batches them."""

from __future__ import annotations

import asyncio
import json
import mailbox
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from appliance.adapters import active_adapter
from appliance.errors import ApplianceError
from appliance.extract.extractor import extract_offer
from appliance.extract.llm_client import LLMClient
from appliance.settings import Settings


def iter_mail_files(paths: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, raw)`` for ``.eml`` files, folders of them (sorted) and mbox files."""
    for path in paths:
        if path.is_dir():
            for f in sorted(path.rglob("*.eml")):
                yield str(f), f.read_bytes()
        elif path.suffix.lower() in (".mbox", ".mbx") or path.name == "mbox":
            box = mailbox.mbox(str(path), create=False)
            for i, key in enumerate(box.iterkeys()):
                yield f"{path}#{i}", box.get_bytes(key)
        else:
            yield str(path), path.read_bytes()


async def extract_many(
    files: Iterable[tuple[str, bytes]], settings: Settings, *, concurrency: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Extract every mail with at most ``concurrency`` requests in flight; yield result lines."""
    limit = asyncio.Semaphore(concurrency or settings.llm.concurrency)
    client = LLMClient(settings.llm)
    model = active_adapter(settings) or settings.llm.model  # as the extract workers choose

    async def one(name: str, raw: bytes) -> dict[str, Any]:
        async with limit:
            try:
                ex = await extract_offer(raw, settings, client, model=model)
            except ApplianceError as exc:
                return {"file": name, "error": exc.as_dict()}
            return {"file": name, "result": ex.offer.model_dump(mode="json")}

    tasks = [asyncio.create_task(one(name, raw)) for name, raw in files]
    try:
        for fut in asyncio.as_completed(tasks):
            yield await fut
    finally:
        for t in tasks:
            t.cancel()
        await client.aclose()


def run_extract(paths: list[Path], settings: Settings, concurrency: int | None = None) -> int:
    """Print one JSON line per mail; exit status 0 when every mail gave a result, else 1."""

    async def main() -> int:
        failures = 0
        async for line in extract_many(iter_mail_files(paths), settings, concurrency=concurrency):
            failures += "error" in line
            print(json.dumps(line, ensure_ascii=False), flush=True)
        return 1 if failures else 0

    return asyncio.run(main())
