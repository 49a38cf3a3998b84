"""Writes of the supplier catalogue: an offer's items become observations of catalogue entries.

Called inside the transaction that stores or changes the offer (``con``), so the catalogue is
never behind its offers. Per current item of the offer: an unchanged item keeps its
observation; a changed one gets a new observation (the old one stays as history,
``is_current = FALSE``); removed items lose theirs. A new observation is matched to an entry of
the same supplier (``_match``), compared with the entry's previous observation from another
offer (a change event, ``catalogue_changes``) and with the supplier's history (anomalies,
returned as review reasons).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from appliance.catalogue import changes
from appliance.catalogue.names import (
    SKU_PREFIX,
    Candidate,
    best_by_name,
    item_key,
    norm_sku,
)
from appliance.settings import CatalogueSettings
from appliance.store import catalogue_groups, offers
from appliance.store.offers import Con

# What an observation holds of its item and offer; the same values → the same observation.
ITEM_TERMS = ("product_name", "sku", "brand", "quantity", "unit", "unit_price", "currency",
              "moq", "lead_time_days")  # fmt: skip
OFFER_TERMS = ("valid_until", "incoterms", "payment_terms")
TERMS = (*ITEM_TERMS, *OFFER_TERMS)


@dataclass(frozen=True)
class Match:
    """Which entry an item was taken as, and why (shown with every observation)."""

    entry_id: int
    key: str
    reason: str
    new: bool


def rows(con: Con, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """A query's rows as dicts, inside a transaction."""
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def mail_date(con: Con, mail_id: int | None) -> dt.datetime | None:
    """When a mail was sent (its Date header, naive UTC), else when it was received."""
    if mail_id is None:
        return None
    row = con.execute("SELECT sent_at, received_at FROM mails WHERE id = ?", [mail_id]).fetchone()
    if row is None:
        return None
    try:
        d = parsedate_to_datetime(row[0]) if row[0] else None
    except (TypeError, ValueError):
        d = None
    if d is None:
        return row[1]
    return d.astimezone(dt.UTC).replace(tzinfo=None) if d.tzinfo else d


def resolve(con: Con, entry_id: int) -> int:
    """The entry an id stands for now (following reviewers' merges)."""
    seen = set()
    while entry_id not in seen:
        seen.add(entry_id)
        row = con.execute(
            "SELECT merged_into FROM catalogue_entries WHERE id = ?", [entry_id]
        ).fetchone()
        if row is None or row[0] is None:
            return entry_id
        entry_id = int(row[0])
    return entry_id


def _register(con: Con, supplier_id: int, key: str, entry_id: int, reason: str,
              now: dt.datetime) -> None:  # fmt: skip
    con.execute(
        "INSERT INTO catalogue_keys VALUES (?, ?, ?, 'auto', ?, ?) ON CONFLICT DO NOTHING",
        [supplier_id, key, entry_id, reason, now],
    )


def _match(
    con: Con, supplier_id: int, item: dict[str, Any], cs: CatalogueSettings, now: dt.datetime
) -> Match:
    name, sku, brand = item["product_name"], item.get("sku"), item.get("brand")
    key = item_key(name, sku, brand)
    name_key = item_key(name, None, brand)
    known = con.execute(
        "SELECT entry_id, source FROM catalogue_keys WHERE supplier_id = ? AND key = ?",
        [supplier_id, key],
    ).fetchone()
    if known:
        how = f"same SKU {norm_sku(sku)}" if key.startswith(SKU_PREFIX) else "same name and brand"
        if known[1] != "auto":
            how += f" (key assigned by a reviewer's {known[1]})"
        entry = resolve(con, int(known[0]))
        _register(con, supplier_id, name_key, entry, how, now)
        return Match(entry, key, how, False)
    if key != name_key:  # an SKU seen for the first time: an entry of that name without one?
        row = con.execute(
            "SELECT k.entry_id FROM catalogue_keys k JOIN catalogue_entries e ON e.id = k.entry_id"
            " WHERE k.supplier_id = ? AND k.key = ? AND e.sku IS NULL",
            [supplier_id, name_key],
        ).fetchone()
        if row:
            entry = resolve(con, int(row[0]))
            how = f"same name and brand as an entry without SKU; SKU {norm_sku(sku)} added"
            con.execute("UPDATE catalogue_entries SET sku = ? WHERE id = ?", [sku, entry])
            _register(con, supplier_id, key, entry, how, now)
            return Match(entry, key, how, False)
    blocked = {
        int(r[0]) for r in con.execute(
            "SELECT entry_id FROM catalogue_blocks WHERE supplier_id = ? AND key = ?",
            [supplier_id, key],
        ).fetchall()
    }  # fmt: skip
    cands = [
        Candidate(int(r["id"]), r["name"], r["sku"], r["brand"])
        for r in rows(
            con,
            "SELECT id, name, sku, brand FROM catalogue_entries"
            " WHERE supplier_id = ? AND merged_into IS NULL",
            [supplier_id],
        )
    ]
    near = best_by_name(name, sku, brand, cands, cs.name_similarity, blocked)
    if near is not None:
        _register(con, supplier_id, key, near.id, near.reason, now)
        if key != name_key:
            _register(con, supplier_id, name_key, near.id, near.reason, now)
        return Match(near.id, key, near.reason, False)
    entry = new_entry(con, supplier_id, name, sku, brand, now)
    how = "first mention" + (f" of SKU {norm_sku(sku)}" if sku else "")
    _register(con, supplier_id, key, entry, how, now)
    _register(con, supplier_id, name_key, entry, how, now)
    catalogue_groups.assign(con, entry, name, sku, brand, cs, now)
    return Match(entry, key, how, True)


def new_entry(con: Con, supplier_id: int, name: str, sku: str | None, brand: str | None,
              now: dt.datetime) -> int:  # fmt: skip
    """Create a catalogue entry (no group yet); returns its id."""
    row = con.execute(
        "INSERT INTO catalogue_entries (supplier_id, name, sku, brand, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [supplier_id, name, sku, brand, now, now],
    ).fetchone()
    assert row is not None
    return int(row[0])


def previous(con: Con, entry_id: int, offer_id: int, at: dt.datetime) -> dict[str, Any] | None:
    """The entry's latest current observation from another offer, observed at or before
    ``at``: what a new observation is compared with."""
    found = rows(
        con,
        "SELECT * FROM catalogue_observations WHERE entry_id = ? AND is_current"
        " AND offer_id <> ? AND observed_at <= ? ORDER BY observed_at DESC, id DESC LIMIT 1",
        [entry_id, offer_id, at],
    )
    return found[0] if found else None


def _currencies(con: Con, supplier_id: int, offer_id: int) -> set[str]:
    return {
        str(r[0]) for r in con.execute(
            "SELECT DISTINCT currency FROM catalogue_observations WHERE supplier_id = ?"
            " AND offer_id <> ? AND currency IS NOT NULL",
            [supplier_id, offer_id],
        ).fetchall()
    }  # fmt: skip


def observe_offer(
    con: Con, cs: CatalogueSettings, offer_id: int, mail_id: int | None, now: dt.datetime
) -> list[str]:
    """Bring the catalogue up to date with the offer's current items (see the module's
    docstring); returns the anomalies of the new observations as review reasons. ``mail_id``:
    the mail that changed the offer (its date is the observation's), None for a correction."""
    cur = offers.load(con, offer_id)
    supplier_id = cur.get("supplier_id")
    if supplier_id is None:
        return []
    held = {
        int(r["item_position"]): r for r in rows(
            con, "SELECT * FROM catalogue_observations WHERE offer_id = ? AND is_current",
            [offer_id],
        )
    }  # fmt: skip
    when = mail_date(con, mail_id) or mail_date(con, int(cur["mail_id"])) or now
    reasons: list[str] = []
    items = cur["items"]
    for pos, item in enumerate(items):
        values = {**{k: item.get(k) for k in ITEM_TERMS}, **{k: cur.get(k) for k in OFFER_TERMS}}
        old = held.get(pos)
        if old is not None and all(old[k] == values[k] for k in TERMS):
            continue
        kept = old is not None and mail_id is None  # a correction: same mail, same date
        at = old["observed_at"] if old is not None and kept else when
        source = old["mail_id"] if old is not None and kept else (mail_id or cur["mail_id"])
        if old is not None:
            _retire(con, int(old["id"]))
        reasons += _add(con, cs, int(supplier_id), offer_id, pos, source, values, at, now, old)
    for pos, old in held.items():
        if pos >= len(items):
            _retire(con, int(old["id"]))
    return reasons


def _retire(con: Con, obs_id: int) -> None:
    con.execute("UPDATE catalogue_observations SET is_current = FALSE WHERE id = ?", [obs_id])


def _add(
    con: Con, cs: CatalogueSettings, supplier_id: int, offer_id: int, pos: int,
    mail_id: int | None, values: dict[str, Any], at: dt.datetime, now: dt.datetime,
    replaced: dict[str, Any] | None,
) -> list[str]:  # fmt: skip
    """Write one observation; returns its anomalies not already raised by the observation of
    the same item it replaces (a reply or a correction repeats no doubt and no change)."""
    m = _match(con, supplier_id, values, cs, now)
    prev = previous(con, m.entry_id, offer_id, at)
    new_terms = changes.Terms.of(values)
    prev_terms = changes.Terms.of(prev) if prev else None
    used = _currencies(con, supplier_id, offer_id)
    found = changes.anomalies(values["product_name"], new_terms, prev_terms, used,
                              cs.anomaly_factor)  # fmt: skip
    obs = con.execute(
        "INSERT INTO catalogue_observations (entry_id, supplier_id, offer_id, item_position,"
        f" mail_id, key, observed_at, {', '.join(TERMS)}, match_reason, anomalies, is_current,"
        f" created_at) VALUES ({', '.join('?' * (len(TERMS) + 11))}) RETURNING id",
        [m.entry_id, supplier_id, offer_id, pos, mail_id, m.key, at,
         *(values[k] for k in TERMS), m.reason, json.dumps(found) if found else None, True, now],
    ).fetchone()  # fmt: skip
    assert obs is not None
    con.execute("UPDATE catalogue_entries SET updated_at = ? WHERE id = ?", [now, m.entry_id])
    same = replaced is not None and int(replaced["entry_id"]) == m.entry_id
    if prev is not None and prev_terms is not None:
        ch = changes.detect(prev_terms, new_terms, cs.price_change_share)
        if ch is not None and same and replaced is not None:
            told = changes.detect(prev_terms, changes.Terms.of(replaced), cs.price_change_share)
            ch = changes.not_told(ch, told)
        if ch is not None:
            con.execute(
                "INSERT INTO catalogue_changes (entry_id, supplier_id, offer_id, observation_id,"
                " previous_id, kinds, detail, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [m.entry_id, supplier_id, offer_id, int(obs[0]), int(prev["id"]),
                 json.dumps(ch.kinds), json.dumps(ch.detail), now],
            )  # fmt: skip
    if same and replaced is not None and replaced.get("anomalies"):
        raised = json.loads(replaced["anomalies"])
        return [r for r in found if r not in raised]
    return found
