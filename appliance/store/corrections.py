"""Reviewers' corrections, approvals and rejections of offers (one transaction per call).

A corrected value is validated and normalised by the extraction contract, then written by the
offer writers with the provenance ``user:<name>`` and the mail the replaced value came from
(else the offer's first mail): the old value stays in ``field_values`` with
``is_current = FALSE``, and each changed field gets one ``corrections`` row (before, after,
who, why, when). A value equal to the current one changes nothing and writes no row.

Positions: ``items`` and ``remove_items`` name positions of the offer as it is before the
request; edits apply first, then removals, then additions (appended at the end). Removing an
item deletes its row and moves the items after it up one position, in ``offer_items`` and in
``field_values`` alike, so positions stay ``0..n-1`` for every reader (dialogue, completeness,
API). The removed item's values stay in ``field_values`` as history, not current and marked
``removed_at`` (outside the positions); its ``remove_item`` row keeps the whole item in
``before``. ``corrections.item_position`` is the position at the time of the correction.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from appliance.errors import Conflict, InvalidRequest
from appliance.extract.contract import Item, Offer, _clean_str, _normalise_item
from appliance.extract.fields import (
    EXTRA,
    EXTRA_PREFIX,
    ITEM_COMPOUNDS,
    ExtraField,
    contract_context,
    extra_keys,
    get_value,
    item_values,
    split_extra,
)
from appliance.settings import DialogueSettings
from appliance.store import offers, suppliers, sync
from appliance.store.db import Database, iso_utc, utcnow
from appliance.store.offers import (
    AWAITING,
    CLOSED,
    COMPLETE,
    EXTRACTED,
    INCOMPLETE,
    ITEM_SCALARS,
    NEEDS_REVIEW,
    OFFER_SCALARS,
    Con,
    Provenance,
)
from appliance.workflow.completeness import evaluate, rules_for

SET, ADD_ITEM, REMOVE_ITEM, APPROVE, REJECT = "set", "add_item", "remove_item", "approve", "reject"
ACTIONS = (SET, ADD_ITEM, REMOVE_ITEM, APPROVE, REJECT)
ITEM_FIELDS = (*ITEM_SCALARS, *ITEM_COMPOUNDS)
# States a reviewer may approve from (complete: approved again after corrections).
APPROVABLE = (EXTRACTED, INCOMPLETE, AWAITING, NEEDS_REVIEW, COMPLETE)


def _actor(user: str) -> str:
    name = (user or "").strip()
    if not name:
        raise InvalidRequest("a correction needs the reviewer's name")
    return f"user:{name}"


def _same(a: Any, b: Any) -> bool:
    """Equal values (numbers by value, 500 == 500.0); strings exactly (case is a correction)."""
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same(a.get(k), b.get(k)) for k in set(a) | set(b))
    return bool(a == b)


def _unknown(names: Any, allowed: tuple[str, ...], where: str) -> None:
    bad = [str(n) for n in names if n not in allowed]
    if bad:
        raise InvalidRequest(
            f"unknown field(s) for {where}: {', '.join(bad)}",
            detail=f"allowed: {', '.join(allowed)}",
        )


def _invalid(exc: ValidationError, where: str) -> InvalidRequest:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return InvalidRequest(f"{where}: {loc}: {first['msg']}", detail=str(exc))


def _split(
    values: dict[str, Any], allowed: tuple[str, ...], where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(contract values, extra name → value): extra fields come as ``extra.<name>`` keys or an
    ``extra`` object."""
    try:
        rest, extra = split_extra(values)
    except ValueError as exc:
        raise InvalidRequest(f"{where}: {exc}") from None
    _unknown(rest, allowed, where)
    return rest, extra


def valid_item(
    values: dict[str, Any], where: str = "item", extra: Sequence[ExtraField] = ()
) -> dict[str, Any]:
    """An item's values normalised (currency symbols, unit aliases, blanks) and validated by
    the extraction contract, in its shape; extra values (``extra.<name>`` keys or an ``extra``
    object) are checked against ``extra``, the configured fields. ``InvalidRequest`` names the
    first bad field."""
    rest, ext = _split(values, ITEM_FIELDS, where)
    data = {**_normalise_item(copy.deepcopy(rest)), EXTRA: ext}
    try:
        return Item.model_validate(data, context=contract_context(extra)).model_dump()
    except ValidationError as exc:
        raise _invalid(exc, where) from exc


def valid_offer_fields(values: dict[str, Any], extra: Sequence[ExtraField] = ()) -> dict[str, Any]:
    """Offer-level values (valid_until as an ISO date, incoterms, payment_terms, configured
    offer-level extra fields) validated, by key (``extra.<name>`` for an extra field)."""
    rest, ext = _split(values, OFFER_SCALARS, "the offer")
    data = {**{k: _clean_str(v) for k, v in rest.items()}, EXTRA: ext}
    try:
        offer = Offer.model_validate(data, context=contract_context(extra))
    except ValidationError as exc:
        raise _invalid(exc, "offer") from exc
    out = {k: getattr(offer, k) for k in rest}
    out.update((EXTRA_PREFIX + n, offer.extra.get(n)) for n in ext)
    return out


def _edited(
    old: dict[str, Any], changes: Any, pos: int, extra: Sequence[ExtraField]
) -> dict[str, Any]:
    """The item at ``pos`` after ``changes``: validated as a whole; extra values patch the old
    ones (a null removes one)."""
    if not isinstance(changes, dict):
        raise InvalidRequest(f"items[{pos}]: an object of field values is expected")
    rest, ext = _split(changes, ITEM_FIELDS, f"item {pos}")
    new = valid_item({**{k: old[k] for k in ITEM_FIELDS}, **rest, EXTRA: ext}, f"item {pos}",
                     extra)  # fmt: skip
    kept = {k: v for k, v in (old.get(EXTRA) or {}).items() if k not in ext}
    new[EXTRA] = {**kept, **new[EXTRA]}
    return new


def _current_mail(con: Con, offer_id: int, position: int | None, field: str) -> int | None:
    row = con.execute(
        "SELECT mail_id FROM field_values WHERE offer_id = ? AND field = ?"
        " AND item_position IS NOT DISTINCT FROM ? AND is_current AND removed_at IS NULL",
        [offer_id, field, position],
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _record(
    con: Con,
    *,
    offer_id: int,
    mail_id: int | None,
    position: int | None,
    field: str,
    action: str,
    before: Any,
    after: Any,
    user: str,
    comment: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    row = con.execute(
        "INSERT INTO corrections (offer_id, mail_id, item_position, field, action, before, after,"
        " user_name, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            offer_id, mail_id, position, field, action, json.dumps(before, ensure_ascii=False),
            json.dumps(after, ensure_ascii=False), user, comment, now,
        ],
    ).fetchone()  # fmt: skip
    assert row is not None
    return {
        "id": int(row[0]), "offer_id": offer_id, "mail_id": mail_id, "item_position": position,
        "field": field, "action": action, "before": before, "after": after, "user": user,
        "comment": comment, "created_at": iso_utc(now),
    }  # fmt: skip


def _open_offer(con: Con, offer_id: int) -> dict[str, Any]:
    cur = offers.load(con, offer_id)
    if cur["state"] == CLOSED:
        raise Conflict(f"offer {offer_id} is closed: it cannot be corrected")
    return cur


def _positions(keys: Any, n: int, what: str) -> list[int]:
    out = []
    for k in keys:
        try:
            pos = int(k)
        except (TypeError, ValueError):
            raise InvalidRequest(f"{what}: {k!r} is not an item position") from None
        if not 0 <= pos < n:
            raise InvalidRequest(f"{what}: the offer has no item at position {pos} (0..{n - 1})")
        out.append(pos)
    return out


def _remove_item(con: Con, offer_id: int, pos: int, now: dt.datetime) -> None:
    con.execute("DELETE FROM offer_items WHERE offer_id = ? AND position = ?", [offer_id, pos])
    con.execute(
        "UPDATE field_values SET is_current = FALSE, removed_at = ? WHERE offer_id = ?"
        " AND item_position = ? AND removed_at IS NULL",
        [now, offer_id, pos],
    )
    con.execute(
        "UPDATE offer_items SET position = position - 1 WHERE offer_id = ? AND position > ?",
        [offer_id, pos],
    )
    con.execute(
        "UPDATE field_values SET item_position = item_position - 1 WHERE offer_id = ?"
        " AND item_position > ? AND removed_at IS NULL",
        [offer_id, pos],
    )


def _shift_missing(missing: dict[str, Any] | None, pos: int) -> dict[str, Any] | None:
    """The offer's ``missing`` record after the item at ``pos`` is gone."""
    if not missing or not missing.get("items"):
        return missing
    items: dict[str, Any] = {}
    for k, v in missing["items"].items():
        if int(k) != pos:
            items[str(int(k) - 1 if int(k) > pos else int(k))] = v
    return {**missing, "items": items}


def correct(
    db: Database,
    offer_id: int,
    *,
    user: str,
    fields: dict[str, Any] | None = None,
    items: dict[int, dict[str, Any]] | dict[str, dict[str, Any]] | None = None,
    add_items: list[dict[str, Any]] | None = None,
    remove_items: list[int] | None = None,
    comment: str | None = None,
    dialogue: DialogueSettings | None = None,
    extra: Sequence[ExtraField] = (),
    on_change: Callable[[Con, int, dt.datetime], None] | None = None,
) -> list[dict[str, Any]]:
    """Apply a reviewer's corrections to an open offer; returns the ``corrections`` rows written
    (none when every value equals the current one).

    ``fields``: offer-level values; ``items``: position (an int or, from JSON, a numeric string)
    → item values to change; ``add_items``: new items (``product_name`` required);
    ``remove_items``: positions to remove. Extra fields (``extract.fields.extra_fields``, passed
    as ``extra``) are named ``extra.<name>`` or given as an ``extra`` object. With ``dialogue``
    (the settings), the offer's ``missing`` fields are judged again. Raises
    ``Conflict`` for a closed offer and ``InvalidRequest`` for an unknown field, position or a
    value the contract refuses; nothing is written then. ``on_change(con, offer_id, now)`` runs in
    the same transaction once something changed (the catalogue follows the corrections).
    """
    actor = _actor(user)
    name = actor.removeprefix("user:")
    now = utcnow()
    rows: list[dict[str, Any]] = []
    with db.transaction() as con:
        cur = _open_offer(con, offer_id)
        origin = int(cur["mail_id"])
        n = len(cur["items"])

        def mail_of(pos: int | None, field: str) -> int:
            return _current_mail(con, offer_id, pos, field) or origin

        def row(
            pos: int | None, field: str, action: str, before: Any, after: Any, mail: int
        ) -> None:
            rec = _record(con, offer_id=offer_id, mail_id=mail, position=pos, field=field,
                          action=action, before=before, after=after, user=name,
                          comment=comment, now=now)  # fmt: skip
            rows.append(rec)

        if fields:
            for field, value in valid_offer_fields(fields, extra).items():
                before = get_value(cur, field)
                if _same(before, value):
                    continue
                mail = mail_of(None, field)
                offers.set_offer_field(
                    con, offer_id, field, value, Provenance(mail, actor), now=now
                )
                row(None, field, SET, before, value, mail)
        removed = sorted(set(_positions(remove_items or [], n, "remove_items")), reverse=True)
        edits = dict(
            zip(_positions((items or {}).keys(), n, "items"), (items or {}).values(), strict=True)
        )
        if set(edits) & set(removed):
            raise InvalidRequest("an item cannot be corrected and removed at once")
        if n - len(removed) + len(add_items or []) < 1:
            raise InvalidRequest("an offer keeps at least one item: reject the offer instead")
        for pos, changes in sorted(edits.items()):
            old = cur["items"][pos]
            new = _edited(old, changes, pos, extra)
            keys = dict.fromkeys([*ITEM_FIELDS, *extra_keys(old), *extra_keys(new)])
            for field in keys:
                before, after = get_value(old, field), get_value(new, field)
                if _same(before, after):
                    continue
                mail = mail_of(pos, field)
                prov = Provenance(mail, actor)
                offers.set_item_field(con, offer_id, pos, field, after, prov, now=now)
                row(pos, field, SET, before, after, mail)
        missing = cur.get("missing")
        for pos in removed:
            mail = mail_of(pos, "product_name")
            _remove_item(con, offer_id, pos, now)
            missing = _shift_missing(missing, pos)
            row(pos, "item", REMOVE_ITEM, cur["items"][pos], None, mail)
        if removed:
            con.execute(
                "UPDATE offers SET missing = ?, updated_at = ? WHERE id = ?",
                [json.dumps(missing) if missing is not None else None, now, offer_id],
            )
        for k, values in enumerate(add_items or []):
            if not isinstance(values, dict):
                raise InvalidRequest(f"add_items[{k}]: an object of field values is expected")
            item = valid_item(values, f"new item {k}", extra)
            pos = offers.add_item(con, offer_id, item["product_name"])
            for field, value in item_values(item).items():
                if value is not None:
                    prov = Provenance(origin, actor)
                    offers.set_item_field(con, offer_id, pos, field, value, prov, now=now)
            row(pos, "item", ADD_ITEM, None, item, origin)
        if rows and dialogue is not None:
            _judge_missing(con, offer_id, dialogue)
        if rows and on_change is not None:
            on_change(con, offer_id, now)
    return rows


def _judge_missing(con: Con, offer_id: int, dialogue: DialogueSettings) -> None:
    """Record again which required fields the corrected offer still lacks."""
    cur = offers.load(con, offer_id)
    comp = evaluate(cur, rules_for(dialogue, suppliers.by_id(con, cur["supplier_id"])))
    con.execute(
        "UPDATE offers SET missing = ? WHERE id = ?", [json.dumps(comp.as_json()), offer_id]
    )


def approve(
    db: Database, offer_id: int, *, user: str, comment: str | None = None
) -> dict[str, Any]:
    """A reviewer approves an offer: it becomes ``complete`` (no more questions or reminders),
    ``reviewed_by``/``reviewed_at`` are set and an ``approve`` row is recorded. Allowed from
    extracted, incomplete, awaiting_supplier, needs_review and complete (approved again after
    corrections); ``Conflict`` otherwise."""
    actor = _actor(user)
    name = actor.removeprefix("user:")
    now = utcnow()
    with db.transaction() as con:
        cur = offers.load(con, offer_id)
        state = str(cur["state"])
        if state not in APPROVABLE:
            raise Conflict(f"offer {offer_id} is {state}: it cannot be approved")
        offers.transition(con, offer_id, COMPLETE, actor=actor, reason=f"approved by {name}",
                          now=now, from_state=state)  # fmt: skip
        con.execute(
            "UPDATE offers SET reviewed_by = ?, reviewed_at = ?, next_action_at = NULL"
            " WHERE id = ?",
            [name, now, offer_id],
        )
        return _record(con, offer_id=offer_id, mail_id=int(cur["mail_id"]), position=None,
                       field="state", action=APPROVE, before=state, after=COMPLETE, user=name,
                       comment=comment, now=now)  # fmt: skip


def reject(db: Database, offer_id: int, *, user: str, reason: str) -> dict[str, Any]:
    """A reviewer rejects an offer: it is closed with the reason (no more questions, reminders
    or merged replies) and a ``reject`` row is recorded; ``Conflict`` when already closed."""
    actor = _actor(user)
    name = actor.removeprefix("user:")
    why = " ".join((reason or "").split())
    if not why:
        raise InvalidRequest("a rejection needs a reason")
    now = utcnow()
    with db.transaction() as con:
        cur = offers.load(con, offer_id)
        state = str(cur["state"])
        offers.transition(con, offer_id, CLOSED, actor=actor, reason=f"rejected by {name}: {why}",
                          now=now, from_state=state)  # fmt: skip
        con.execute("UPDATE offers SET next_action_at = NULL WHERE id = ?", [offer_id])
        return _record(con, offer_id=offer_id, mail_id=int(cur["mail_id"]), position=None,
                       field="state", action=REJECT, before=state, after=CLOSED, user=name,
                       comment=why, now=now)  # fmt: skip


def list_corrections(
    db: Database,
    *,
    offer_id: int | None = None,
    updated_since: dt.datetime | None = None,
    user: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of corrections (the paging shape of the offer list), newest first, or oldest
    first with ``updated_since`` (a correction never changes: its ``created_at`` is its
    ``updated_at``; the sync contract of ``store.sync``)."""
    f = sync.Filters(updated_since=updated_since, after_id=after_id)
    cond, params = sync.changed_after("created_at", "id", f.updated_since, f.after_id)
    where = [cond]
    if offer_id is not None:
        where.append("offer_id = ?")
        params.append(offer_id)
    if user:
        where.append("user_name = ?")
        params.append(user)
    sql_where = " AND ".join(where)
    total = db.scalar(f"SELECT count(*) FROM corrections WHERE {sql_where}", params)
    rows = db.query(
        "SELECT id, offer_id, mail_id, item_position, field, action, before, after, user_name,"
        f" comment, created_at FROM corrections WHERE {sql_where}"
        f" ORDER BY {sync.order_by(f, 'created_at', 'id')} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    items = [
        {
            **{k: r[k] for k in ("id", "offer_id", "mail_id", "item_position", "field", "action")},
            "before": json.loads(r["before"]) if r["before"] is not None else None,
            "after": json.loads(r["after"]) if r["after"] is not None else None,
            "user": r["user_name"],
            "comment": r["comment"],
            "created_at": iso_utc(r["created_at"]),
        }
        for r in rows
    ]
    keys = [(r["created_at"], r["id"]) for r in rows]
    return sync.page(items, keys, total=total, limit=limit, offset=offset, f=f)
