"""Merging a supplier's reply into the offer it answers, field by field with provenance.

The reply's answer form (read deterministically, exact spans) is the supplier's answer to our
questions and wins, for any field. The model's reading of a reply is trusted less: for items the
reply names, it fills only the fields we asked for that the form left empty; in a free-text
reply (no form) it may also change a filled value (a corrected price). A changed value keeps the
old one in the history and is flagged for review when policy says so. Anything else the model
read into a reply (a stray moq from the "1." of the form) is ignored and listed in the event.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.extract.confidence import field_level
from appliance.extract.contract import Offer
from appliance.extract.fields import EXTRA_PREFIX, ExtraField, get_value, item_values, set_value
from appliance.messages import ExtractionOutcome
from appliance.store import offers
from appliance.store.offers import OFFER_SCALARS, Con, Provenance

_WORD = re.compile(r"\w{3,}")


@dataclass
class MergeResult:
    filled: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def contributed(self) -> bool:
        return bool(self.filled or self.changed)


def _words(name: str | None) -> set[str]:
    return set(_WORD.findall((name or "").casefold()))


def match_item(name: str, items: list[dict[str, Any]]) -> int | None:
    """The position of the offer item a reply's item names: the best word overlap, at least
    half of the shorter name's words."""
    mine = _words(name)
    best, best_score = None, 0.0
    for pos, item in enumerate(items):
        theirs = _words(item.get("product_name"))
        if not mine or not theirs:
            continue
        score = len(mine & theirs) / min(len(mine), len(theirs))
        if score > best_score:
            best, best_score = pos, score
    return best if best_score >= 0.5 else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) < 1e-9
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return all(_same(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return bool(a == b)


def _show(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict):
        return "×".join(_show(v[k]) for k in ("length", "width", "height", "value") if v.get(k))
    return str(v)


def _skip(res: MergeResult, where: str, old: Any, value: Any) -> None:
    if old is None:
        res.ignored.append(f"{where}: not asked, reply read as {_show(value)}")
    elif not _same(old, value):
        res.ignored.append(f"{where}: kept {_show(old)}, reply read as {_show(value)}")


def merge_reply(
    con: Con,
    offer_id: int,
    current: dict[str, Any],
    out: ExtractionOutcome,
    extracted: Offer,
    *,
    flag_changes: bool,
    now: dt.datetime,
    extra: Sequence[ExtraField] = (),
) -> MergeResult:
    """Apply one reply mail to an offer record; returns what was filled, changed and doubted.
    ``extra``: the configured extra fields (which of them are offer-level)."""
    res = MergeResult()
    mail_id = out.mail_id
    items: list[dict[str, Any]] = current["items"]
    from_form: set[tuple[int | None, str]] = set()
    offer_level = {*OFFER_SCALARS, *(f.key for f in extra if f.level == "offer")}

    def apply(pos: int | None, name: str, value: Any, prov: Provenance) -> None:
        where = f"item {pos + 1} {name}" if pos is not None else name
        old = get_value(items[pos] if pos is not None else current, name)
        if value is None or (old is not None and _same(old, value)):
            return
        flagged = old is not None and flag_changes
        if pos is None:
            offers.set_offer_field(con, offer_id, name, value, prov, now=now)
            set_value(current, name, value)
        else:
            offers.set_item_field(con, offer_id, pos, name, value, prov, flagged=flagged, now=now)
            set_value(items[pos], name, value)
        if old is None:
            res.filled.append(where)
        else:
            res.changed.append(f"{where}: {_show(old)} → {_show(value)}")
            if flag_changes:
                res.doubts.append(
                    f"the supplier changed {where} from {_show(old)} to {_show(value)}"
                    f" (mail {mail_id})"
                )

    for a in out.answers:
        prov = Provenance.of(mail_id, "form", a.span)
        if a.field in offer_level:
            apply(None, a.field, a.value, prov)
            from_form.add((None, a.field))
            continue
        pos = (a.number or 1) - 1
        if not 0 <= pos < len(items) or a.field == "product_name":
            res.ignored.append(f"form answer {a.field} for item {a.number}: no such item")
            continue
        apply(pos, a.field, a.value, prov)
        from_form.add((pos, a.field))

    free_text = not out.answers
    conf = field_level(out.confidence)
    missing = current.get("missing") or {}
    # (position, field) asked for → its group of alternatives ("quantity|moq").
    asked: dict[tuple[int | None, str], list[str]] = {
        (int(pos), alt): name.split("|")
        for pos, names in (missing.get("items") or {}).items()
        for name in names
        for alt in name.split("|")
    }
    asked.update({(None, name): [name] for name in missing.get("offer") or []})

    def model_may(pos: int | None, name: str, old: Any) -> bool:
        if old is not None:
            return free_text
        group = asked.get((pos, name))
        if group is None:
            return False
        values = items[pos] if pos is not None else current
        return all(get_value(values, alt) is None for alt in group)  # not answered another way

    for i, item in enumerate(extracted.items):
        at = match_item(item.product_name, items)
        if at is None:
            res.ignored.append(f"reply item {item.product_name!r}: matches no item of the offer")
            continue
        for name, value in item_values(item.model_dump()).items():
            if name == "product_name" or (at, name) in from_form:
                continue
            old = get_value(items[at], name)
            if value is not None and not model_may(at, name, old):
                _skip(res, f"item {at + 1} {name}", old, value)
                continue
            path = f"items[{i}].{name}"
            apply(
                at, name, value, Provenance.of(mail_id, "llm", out.spans.get(path), conf.get(path))
            )
    read = {name: getattr(extracted, name) for name in OFFER_SCALARS}
    read.update((EXTRA_PREFIX + n, v) for n, v in extracted.extra.items())
    for name, value in read.items():
        if (None, name) in from_form:
            continue
        old = get_value(current, name)
        if value is not None and not model_may(None, name, old):
            _skip(res, name, old, value)
            continue
        apply(None, name, value, Provenance.of(mail_id, "llm", out.spans.get(name), conf.get(name)))
    return res
