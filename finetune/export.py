"""Export approved offers from a running appliance as a labelled mail set for training.

    APPLIANCE_API_TOKEN=... python -m finetune.export --api http://127.0.0.1:8080 \\
        --out data/approved [--reviewed-only]

For every offer in state ``complete`` (approved: complete after the dialogue, or corrected and
approved by a reviewer; with ``--reviewed-only`` only offers a reviewer approved) it writes the
offer's first mail as ``NNNN.eml`` and its label as line N of ``gold.jsonl`` (with the offer's
``reviewed_by``/``reviewed_at``) — the same layout as the synthetic and development sets, so
``python -m finetune.dataset build --set data/approved …`` turns it into chat records with the
production prompt.

The label of a mail holds only what that mail states: a value whose provenance names another mail
(the supplier's answer to a clarification) is kept only when the first mail's text states it too
(the model missed it there: exactly what training should fix), else it is null, because the model
reading that mail could not have found it. The label holds the current values, so reviewers'
corrections are the gold: a corrected value keeps the mail the replaced value came from (or the
offer's first mail when the reviewer filled a gap), an item a reviewer removed is gone and one a
reviewer added is there. Configured extra fields (``[[extraction.fields]]``) are in the label as
the API gives them (``extra``, on the item and on the offer), by the same rule.

The API needs a token with the ``read`` scope: ``--token`` or ``APPLIANCE_API_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from appliance.extract.evidence import locate
from appliance.extract.fields import EXTRA, EXTRA_PREFIX, ITEM_NAMES, OFFER_VALUES
from appliance.preprocess import parse_mail


def label_for_mail(offer: dict[str, Any], mail_id: int, text: str) -> dict[str, Any]:
    """The contract-shaped label of ``mail_id`` (whose cleaned text is ``text``) within
    ``offer``: the current values that mail states."""
    current = {(p["item"], p["field"]): p for p in offer.get("provenance", []) if p.get("current")}

    def own(item: int | None, name: str, value: Any) -> Any:
        p = current.get((item, name))
        if p is None or value is None:
            return None
        if p.get("mail_id") == mail_id or locate(name, value, text) is not None:
            return value
        return None

    def extra(pos: int | None, values: dict[str, Any] | None) -> dict[str, Any]:
        kept = {n: own(pos, EXTRA_PREFIX + n, v) for n, v in (values or {}).items()}
        return {n: v for n, v in kept.items() if v is not None}

    items = []
    for pos, item in enumerate(offer["items"]):
        row = {name: own(pos, name, item.get(name)) for name in ITEM_NAMES}
        row[EXTRA] = extra(pos, item.get(EXTRA))
        if row["product_name"]:
            items.append(row)
    return {
        "supplier": offer["supplier"],
        "items": items,
        **{name: own(None, name, offer.get(name)) for name in OFFER_VALUES},
        EXTRA: extra(None, offer.get(EXTRA)),
        "language": offer.get("language") or "und",
        "reviewed_by": offer.get("reviewed_by"),
        "reviewed_at": offer.get("reviewed_at"),
    }


def export(
    api: str,
    out: Path,
    *,
    state: str = "complete",
    token: str | None = None,
    reviewed_only: bool = False,
) -> int:
    """Write the set; returns the number of mails exported. ``token`` is sent as a bearer token;
    ``reviewed_only`` keeps the offers a reviewer approved. Raises ``httpx.HTTPStatusError``
    when the API refuses (401 without a valid token)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = httpx.Client(base_url=api.rstrip("/"), headers=headers, timeout=30)

    def get(path: str, **params: Any) -> httpx.Response:
        r = client.get(path, params=params)
        r.raise_for_status()
        return r

    out.mkdir(parents=True, exist_ok=True)
    n, offset = 0, 0
    query: dict[str, Any] = {"state": state, "limit": 200}
    if reviewed_only:
        query["reviewed"] = "true"
    with (out / "gold.jsonl").open("w", encoding="utf-8") as gold:
        while True:
            page = get("/api/v1/offers", **query, offset=offset).json()
            for summary in page["items"]:
                offer = get(f"/api/v1/offers/{summary['id']}").json()
                mail_id = offer["source_mail_ids"][0]
                raw = get(f"/api/v1/mails/{mail_id}/raw")
                mail = parse_mail(raw.content)
                label = label_for_mail(offer, mail_id, f"{mail.subject}\n{mail.text}")
                if not label["items"]:
                    continue
                (out / f"{n:04d}.eml").write_bytes(raw.content)
                label["id"] = f"offer-{offer['id']}-mail-{mail_id}"
                gold.write(json.dumps(label, ensure_ascii=False) + "\n")
                n += 1
            offset += len(page["items"])
            if offset >= page["total"] or not page["items"]:
                break
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--api", default="http://127.0.0.1:8080", help="the appliance server")
    p.add_argument("--out", type=Path, required=True, help="folder for NNNN.eml + gold.jsonl")
    p.add_argument("--state", default="complete", help="offer state to export")
    p.add_argument("--token", default=os.environ.get("APPLIANCE_API_TOKEN"),
                   help="API token (read scope); default: $APPLIANCE_API_TOKEN")  # fmt: skip
    p.add_argument("--reviewed-only", action="store_true",
                   help="only offers a reviewer approved (reviewed_by set)")  # fmt: skip
    a = p.parse_args(argv)
    try:
        n = export(a.api, a.out, state=a.state, token=a.token, reviewed_only=a.reviewed_only)
    except httpx.HTTPStatusError as exc:
        hint = " (pass --token or set APPLIANCE_API_TOKEN)" if exc.response.status_code in (
            401, 403) else ""  # fmt: skip
        print(f"the API refused {exc.request.url}: HTTP {exc.response.status_code}{hint}",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"exported {n} mail(s) to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
