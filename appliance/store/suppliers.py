"""The supplier registry: suppliers from ``[[suppliers]]`` in the config (registered) and the
senders seen so far (unregistered), each with addresses/domains, language and policy."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from appliance.errors import NotFound
from appliance.settings import SupplierSettings
from appliance.store import sync
from appliance.store.db import Database, iso_utc, utcnow
from appliance.store.offers import Con


@dataclass(frozen=True)
class Supplier:
    id: int
    name: str
    registered: bool
    language: str | None
    auto_questions: bool | None
    acknowledgements: bool | None
    offer_fields: list[str] | None
    item_fields: list[str] | None


def _row(r: tuple[Any, ...]) -> Supplier:
    return Supplier(
        id=r[0], name=r[1], registered=r[2], language=r[3], auto_questions=r[4],
        acknowledgements=r[5], offer_fields=json.loads(r[6]) if r[6] else None,
        item_fields=json.loads(r[7]) if r[7] else None,
    )  # fmt: skip


_COLS = (
    "s.id, s.name, s.registered, s.language, s.auto_questions, s.acknowledgements,"
    " s.offer_fields, s.item_fields"
)


def sync_registry(db: Database, configured: list[SupplierSettings]) -> None:
    """Make the registered suppliers match the config (run at server start).

    A supplier keeps its id across restarts (matched by name); its addresses are replaced by
    the configured ones. An address first seen from an unknown sender moves to the registered
    supplier that now claims it.
    """
    now = utcnow()
    with db.transaction() as con:
        for s in configured:
            row = con.execute(
                "SELECT id FROM suppliers WHERE name = ? AND registered", [s.name]
            ).fetchone()
            values = [
                s.language, s.auto_questions, s.acknowledgements,
                json.dumps(s.offer_fields) if s.offer_fields is not None else None,
                json.dumps(s.item_fields) if s.item_fields is not None else None, now,
            ]  # fmt: skip
            if row:
                sid = int(row[0])
                con.execute(
                    "UPDATE suppliers SET language = ?, auto_questions = ?, acknowledgements = ?,"
                    " offer_fields = ?, item_fields = ?, updated_at = ? WHERE id = ?",
                    [*values, sid],
                )
            else:
                new = con.execute(
                    "INSERT INTO suppliers (name, registered, language, auto_questions,"
                    " acknowledgements, offer_fields, item_fields, updated_at, created_at)"
                    " VALUES (?, TRUE, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    [s.name, *values, now],
                ).fetchone()
                assert new is not None
                sid = int(new[0])
            con.execute("DELETE FROM supplier_addresses WHERE supplier_id = ?", [sid])
            addrs = [(e.strip().lower(), "email") for e in s.emails]
            addrs += [("@" + d.strip().lower().lstrip("@"), "domain") for d in s.domains]
            for addr, kind in addrs:
                con.execute("DELETE FROM supplier_addresses WHERE address = ?", [addr])
                con.execute("INSERT INTO supplier_addresses VALUES (?, ?, ?)", [addr, sid, kind])


def find(con: Con, addr: str | None) -> Supplier | None:
    """The supplier an address belongs to: its exact address first, then its domain."""
    if not addr:
        return None
    addr = addr.lower()
    for key in (addr, "@" + addr.rpartition("@")[2]):
        row = con.execute(
            f"SELECT {_COLS} FROM supplier_addresses a JOIN suppliers s ON s.id = a.supplier_id"
            " WHERE a.address = ?",
            [key],
        ).fetchone()
        if row:
            return _row(row)
    return None


def by_id(con: Con, supplier_id: int | None) -> Supplier | None:
    if supplier_id is None:
        return None
    row = con.execute(f"SELECT {_COLS} FROM suppliers s WHERE s.id = ?", [supplier_id]).fetchone()
    return _row(row) if row else None


def ensure(con: Con, addr: str, name: str | None, now: dt.datetime) -> Supplier:
    """The supplier of ``addr``, creating an unregistered one for a sender seen the first time."""
    found = find(con, addr)
    if found:
        return found
    row = con.execute(
        "INSERT INTO suppliers (name, registered, created_at, updated_at)"
        " VALUES (?, FALSE, ?, ?) RETURNING id",
        [name or addr, now, now],
    ).fetchone()
    assert row is not None
    con.execute("INSERT INTO supplier_addresses VALUES (?, ?, 'email')", [addr.lower(), row[0]])
    found = find(con, addr)
    assert found is not None
    return found


def list_suppliers(
    db: Database,
    *,
    limit: int = 50,
    offset: int = 0,
    updated_since: dt.datetime | None = None,
    after_id: int | None = None,
) -> dict[str, Any]:
    """A page of suppliers with their addresses and offer counts per state: registered first,
    by name; with ``updated_since``, oldest change first (the contract of ``store.sync``)."""
    f = sync.Filters(updated_since=updated_since, after_id=after_id)
    cond, params = sync.changed_after("updated_at", "id", f.updated_since, f.after_id)
    order = "updated_at, id" if updated_since is not None else "registered DESC, name, id"
    total = db.scalar(f"SELECT count(*) FROM suppliers WHERE {cond}", params)
    rows = db.query(
        f"SELECT id, updated_at FROM suppliers WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return sync.page(
        [get_supplier(db, r["id"], offers=False) for r in rows],
        [(r["updated_at"], r["id"]) for r in rows],
        total=total, limit=limit, offset=offset, f=f,
    )  # fmt: skip


def get_supplier(db: Database, supplier_id: int, *, offers: bool = True) -> dict[str, Any]:
    """One supplier: policy, addresses, offer counts by state and (optionally) its offers."""
    rows = db.query("SELECT * FROM suppliers WHERE id = ?", [supplier_id])
    if not rows:
        raise NotFound(f"supplier {supplier_id} does not exist")
    s = rows[0]
    for k in ("offer_fields", "item_fields"):
        s[k] = json.loads(s[k]) if s[k] else None
    for k in ("created_at", "updated_at"):
        s[k] = iso_utc(s[k])
    addrs = db.query(
        "SELECT address, kind FROM supplier_addresses WHERE supplier_id = ? ORDER BY address",
        [supplier_id],
    )
    s["emails"] = [a["address"] for a in addrs if a["kind"] == "email"]
    s["domains"] = [a["address"][1:] for a in addrs if a["kind"] == "domain"]
    s["offers_by_state"] = {
        r["state"]: r["n"]
        for r in db.query(
            "SELECT state, count(*) AS n FROM offers WHERE supplier_id = ? GROUP BY state",
            [supplier_id],
        )
    }
    if offers:
        s["offers"] = [
            {**r, "created_at": iso_utc(r["created_at"])}
            for r in db.query(
                "SELECT id, state, created_at, rounds, mail_id FROM offers WHERE supplier_id = ?"
                " ORDER BY id DESC LIMIT 200",
                [supplier_id],
            )
        ]
    return s
