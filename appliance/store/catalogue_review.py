"""A reviewer's corrections of the catalogue's matching, which stick across later mails.

* ``split``: an observation's key (and every observation of the entry under that key) leaves
  its entry for a new one; the key now points at the new entry and is blocked from the old one,
  so the supplier's next mail naming that product lands in the new entry.
* ``merge``: an entry's observations and keys move into another; the merged entry stays as a
  pointer (``merged_into``), so its keys and ids keep resolving.
* ``regroup``: a buyer moves an entry into another comparison group (or a group of its own);
  automatic grouping never touches it again.

Each decision is recorded as an event (stage ``catalogue``) with who made it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from appliance.catalogue.names import item_key
from appliance.errors import Conflict, InvalidRequest, NotFound
from appliance.store import catalogue_groups
from appliance.store.catalogue import new_entry, rows
from appliance.store.db import Database, utcnow
from appliance.store.offers import Con


def _entry(con: Con, entry_id: int) -> dict[str, Any]:
    found = rows(con, "SELECT * FROM catalogue_entries WHERE id = ?", [entry_id])
    if not found:
        raise NotFound(f"catalogue entry {entry_id} does not exist")
    if found[0]["merged_into"] is not None:
        raise Conflict(f"catalogue entry {entry_id} was merged into {found[0]['merged_into']}")
    return found[0]


def _log(con: Con, what: str, detail: str, now: dt.datetime) -> None:
    con.execute(
        "INSERT INTO events (stage, outcome, detail, occurred_at) VALUES ('catalogue', ?, ?, ?)",
        [what, detail, now],
    )


def split(db: Database, observation_id: int, *, user: str) -> dict[str, Any]:
    """Move the observation's product (its key, with every observation of the entry under it)
    into a new entry; returns ``{"entry_id": new, "from_entry_id": old, "moved": n}``.
    ``Conflict`` when every observation of the entry has that key (nothing to tell apart)."""
    now = utcnow()
    with db.transaction() as con:
        obs = rows(con, "SELECT * FROM catalogue_observations WHERE id = ?", [observation_id])
        if not obs:
            raise NotFound(f"catalogue observation {observation_id} does not exist")
        o = obs[0]
        old = _entry(con, int(o["entry_id"]))
        sid, key = int(o["supplier_id"]), str(o["key"])
        name_key = item_key(o["product_name"], None, o["brand"])
        keys = {key, name_key}
        others = rows(
            con, "SELECT DISTINCT key, product_name, brand FROM catalogue_observations"
            " WHERE entry_id = ? AND key <> ?", [old["id"], key],
        )  # fmt: skip
        if not others:
            raise Conflict(
                f"every observation of entry {old['id']} has the key {key!r}: nothing to split",
                detail="a split moves one product key out of an entry that holds several",
            )
        if any(item_key(r["product_name"], None, r["brand"]) == name_key for r in others):
            keys.discard(name_key)  # the name still names what stays
        entry = new_entry(con, sid, o["product_name"], o["sku"], o["brand"], now)
        for k in keys:
            con.execute(
                "INSERT INTO catalogue_keys VALUES (?, ?, ?, 'split', ?, ?) ON CONFLICT"
                " (supplier_id, key) DO UPDATE SET entry_id = excluded.entry_id,"
                " source = 'split', reason = excluded.reason",
                [sid, k, entry, f"split from entry {old['id']} by {user}", now],
            )
            con.execute(
                "INSERT INTO catalogue_blocks VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [sid, k, old["id"], user, now],
            )
        moved = con.execute(
            "UPDATE catalogue_observations SET entry_id = ? WHERE entry_id = ? AND key = ?"
            " RETURNING id",
            [entry, old["id"], key],
        ).fetchall()
        con.execute(
            "UPDATE catalogue_entries SET group_id = ?, group_source = ?, group_reason = ?,"
            " updated_at = ? WHERE id = ?",
            [old["group_id"], old["group_source"], "split from entry " + str(old["id"]), now,
             entry],
        )  # fmt: skip
        con.execute("UPDATE catalogue_entries SET updated_at = ? WHERE id = ?", [now, old["id"]])
        _log(con, "split", f"{user}: key {key!r} of entry {old['id']} → entry {entry}", now)
    return {"entry_id": entry, "from_entry_id": int(old["id"]), "moved": len(moved)}


def merge(db: Database, entry_id: int, into: int, *, user: str) -> dict[str, Any]:
    """Merge entry ``entry_id`` into entry ``into`` (same supplier): observations and keys
    move, blocks between them go; returns ``{"entry_id": into, "moved": n}``."""
    if entry_id == into:
        raise InvalidRequest("an entry cannot be merged into itself")
    now = utcnow()
    with db.transaction() as con:
        src, dst = _entry(con, entry_id), _entry(con, into)
        if src["supplier_id"] != dst["supplier_id"]:
            raise InvalidRequest(
                "only entries of one supplier can be merged",
                detail="products of different suppliers are compared in groups (regroup)",
            )
        moved = con.execute(
            "UPDATE catalogue_observations SET entry_id = ? WHERE entry_id = ? RETURNING id",
            [into, entry_id],
        ).fetchall()
        con.execute(
            "UPDATE catalogue_keys SET entry_id = ?, source = 'merge', reason = ?"
            " WHERE entry_id = ?",
            [into, f"merged from entry {entry_id} by {user}", entry_id],
        )
        con.execute(
            "DELETE FROM catalogue_blocks WHERE entry_id = ? AND key IN (SELECT key FROM"
            " catalogue_keys WHERE entry_id = ?)",
            [into, into],
        )
        con.execute(
            "UPDATE catalogue_entries SET merged_into = ?, updated_at = ? WHERE id = ?",
            [into, now, entry_id],
        )
        con.execute("UPDATE catalogue_entries SET updated_at = ? WHERE id = ?", [now, into])
        _log(con, "merge", f"{user}: entry {entry_id} → entry {into}", now)
    return {"entry_id": into, "moved": len(moved)}


def regroup(db: Database, entry_id: int, group_id: int | None, *, user: str) -> dict[str, Any]:
    """A buyer's grouping: the entry joins ``group_id`` (None: a new group of its own) and
    stays there; returns ``{"entry_id", "group_id"}``."""
    now = utcnow()
    with db.transaction() as con:
        e = _entry(con, entry_id)
        if group_id is None:
            group_id = catalogue_groups.new_group(con, e["name"], None, e["brand"], now)
        elif not con.execute("SELECT 1 FROM product_groups WHERE id = ?", [group_id]).fetchone():
            raise NotFound(f"product group {group_id} does not exist")
        con.execute(
            "UPDATE catalogue_entries SET group_id = ?, group_source = 'buyer',"
            " group_reason = ?, updated_at = ? WHERE id = ?",
            [group_id, f"placed by {user}", now, entry_id],
        )
        _log(con, "regroup", f"{user}: entry {entry_id} → group {group_id}", now)
    return {"entry_id": entry_id, "group_id": group_id}
