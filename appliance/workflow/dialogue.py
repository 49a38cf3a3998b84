"""The supplier dialogue, run by the DB owner: what each extraction outcome does to the offers,
and what is due when nobody answers.

For each extracted mail: is it a reply to one of our threads (our Message-IDs in In-Reply-To /
References, else the subject token) from that offer's supplier? Then merge it into that offer;
otherwise a new offer. Then judge completeness and move the state machine: complete → an
acknowledgement; incomplete → a clarification (or review when asking is not allowed or the
rounds are used up); doubtful → review. E-mails are outbox rows written in the same
transaction; the caller queues their delivery after the commit.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from appliance.extract.confidence import field_level
from appliance.extract.contract import Offer
from appliance.extract.fields import extra_fields, get_value
from appliance.messages import ExtractionOutcome
from appliance.settings import Settings
from appliance.store import offers, outbox, rederive, repo, suppliers
from appliance.store.db import Database, utcnow
from appliance.store.offers import (
    AWAITING,
    CLOSED,
    COMPLETE,
    INCOMPLETE,
    NEEDS_REVIEW,
    Con,
    Provenance,
)
from appliance.store.outbox import Delivery
from appliance.workflow import catalogue, policy
from appliance.workflow.completeness import (
    Completeness,
    evaluate,
    low_confidence,
    not_in_mail,
    rules_for,
)
from appliance.workflow.compose import (
    TOKEN_RE,
    AskedItem,
    Outgoing,
    compose_ack,
    compose_questions,
    new_token,
)
from appliance.workflow.merge import merge_reply


class _Mail:
    """The mail a dialogue step answers: threading facts and language."""

    def __init__(
        self,
        mail_id: int | None,
        message_id: str | None,
        references: list[str],
        language: str | None,
        automatic: list[str],
        channel: str | None = None,
    ) -> None:
        self.mail_id = mail_id
        self.message_id = message_id
        self.references = references
        self.language = language
        self.automatic = automatic
        self.channel = channel


def save_extraction(
    db: Database, settings: Settings, out: ExtractionOutcome
) -> tuple[str, list[Delivery]]:
    """Store one extraction outcome and run the dialogue on it (one transaction).

    Returns the mail's result and the e-mails to deliver now.
    """
    deliveries: list[Delivery] = []
    now = utcnow()

    def settle(con: Con, offer: Offer) -> bool:
        return _settle(db, con, settings, out, offer, now, deliveries)

    result = repo.save_extraction(db, out, settle)
    return result, deliveries


def _settle(
    db: Database,
    con: Con,
    settings: Settings,
    out: ExtractionOutcome,
    offer: Offer,
    now: dt.datetime,
    deliveries: list[Delivery],
) -> bool:
    t = out.thread
    sender = policy.normalise_address(t.from_addr)
    token_m = TOKEN_RE.search(t.subject or "")
    mail = _Mail(
        out.mail_id, t.message_id, [*t.references, *([t.in_reply_to] if t.in_reply_to else [])],
        out.language, t.automatic, t.channel,
    )  # fmt: skip
    doubts: list[str] = []
    match = offers.thread_offer(
        con, [t.in_reply_to or "", *t.references], token_m.group(1) if token_m else None
    )
    if match:
        offer_id, how = match
        cur = offers.load(con, offer_id)
        if _sender_matches(con, cur, sender):
            return _on_reply(db, con, settings, out, offer, cur, how, mail, now, deliveries)
        doubts.append(
            f"answers the thread of offer {offer_id} ({how}) but comes from {sender or 'nobody'},"
            " not from its supplier"
        )
        repo.add_event(db, "dialogue", "thread_sender_mismatch", mail_id=out.mail_id,
                       offer_id=offer_id, detail=doubts[-1])  # fmt: skip
    if not offer.items:
        return False
    supplier = suppliers.find(con, sender)
    if supplier is None and sender and not t.automatic:
        supplier = suppliers.ensure(con, sender, t.from_name or offer.supplier.name, now)
    offer_id = offers.create_offer(
        con, mail_id=out.mail_id, message_id=t.message_id, offer=offer, model=out.model,
        supplier_id=supplier.id if supplier else None, contact_addr=sender, token=_token(con),
        subject=t.subject, provenance=_provenance(out), now=now,
    )  # fmt: skip
    if out.unfound and settings.review.unfound_values == "review":
        # The first mail only: a reply's strays are ignored by the merge anyway.
        con.execute(
            "UPDATE offers SET unfound = ? WHERE id = ?", [json.dumps(out.unfound), offer_id]
        )
    doubts += catalogue.observe(con, settings, offer_id, out.mail_id, now)
    _advance(db, con, settings, offer_id, mail, doubts, now, deliveries, actor="extractor")
    return True


def _on_reply(
    db: Database,
    con: Con,
    settings: Settings,
    out: ExtractionOutcome,
    offer: Offer,
    cur: dict[str, Any],
    how: str,
    mail: _Mail,
    now: dt.datetime,
    deliveries: list[Delivery],
) -> bool:
    offer_id = int(cur["id"])
    if cur["state"] == CLOSED or mail.automatic:
        why = "the offer is closed" if cur["state"] == CLOSED else ", ".join(mail.automatic)
        offers.link_mail(con, offer_id, out.mail_id, "ignored", mail.message_id, now=now)
        repo.add_event(db, "dialogue", "reply_ignored", mail_id=out.mail_id, offer_id=offer_id,
                       detail=why)  # fmt: skip
        return False
    merged = merge_reply(
        con, offer_id, cur, out, offer, flag_changes=settings.dialogue.flag_changes, now=now,
        extra=extra_fields(settings),
    )  # fmt: skip
    offers.link_mail(con, offer_id, out.mail_id, "reply", mail.message_id, now=now)
    detail = {"matched_by": how, "filled": merged.filled, "changed": merged.changed,
              "ignored": merged.ignored}  # fmt: skip
    repo.add_event(db, "dialogue", "reply_merged", mail_id=out.mail_id, offer_id=offer_id,
                   detail=json.dumps(detail, ensure_ascii=False))  # fmt: skip
    doubts = [*merged.doubts, *catalogue.observe(con, settings, offer_id, out.mail_id, now)]
    _advance(db, con, settings, offer_id, mail, doubts, now, deliveries, actor="supplier")
    return True


def _sender_matches(con: Con, cur: dict[str, Any], sender: str | None) -> bool:
    if not sender:
        return False
    if sender == cur["contact_addr"]:
        return True
    found = suppliers.find(con, sender)
    return found is not None and found.registered and found.id == cur["supplier_id"]


def _token(con: Con) -> str:
    while True:
        token = new_token()
        if not con.execute("SELECT 1 FROM offers WHERE token = ?", [token]).fetchone():
            return token


def _provenance(out: ExtractionOutcome) -> dict[str, Provenance]:
    conf = field_level(out.confidence)
    return {
        path: Provenance.of(out.mail_id, "llm", out.spans.get(path), conf.get(path))
        for path in {*out.spans, *conf}
    }


def model_doubts(con: Con, settings: Settings, cur: dict[str, Any]) -> list[str]:
    """Review reasons about the model's reading of the offer: current values it read with a
    confidence below ``review.min_confidence`` (not those a reviewer approved since), and values
    it gave that the first mail does not contain, while their field is still empty (a later
    answer fills it) and no reviewer has approved the offer."""
    unsure = low_confidence(
        offers.model_confidences(con, int(cur["id"])), settings.review.min_confidence
    )
    unfound = cur.get("unfound") or {}
    if unfound and cur.get("reviewed_at") is None:
        unsure += not_in_mail({p: v for p, v in unfound.items() if _still_empty(cur, p)})
    return unsure


def _still_empty(cur: dict[str, Any], path: str) -> bool:
    """Whether the field at ``path`` (``items[0].moq``, ``items[0].extra.color``,
    ``valid_until``) is still empty; paths the record does not hold (``supplier.name``,
    ``removed_items[0]...``) count as empty."""
    m = re.fullmatch(r"items\[(\d+)\]\.(extra\.\w+|\w+)(?:\..*)?", path)
    if m:
        items = cur.get("items") or []
        pos = int(m.group(1))
        return pos >= len(items) or get_value(items[pos], m.group(2)) in (None, "")
    top = m2.group(0) if (m2 := re.match(r"extra\.\w+", path)) else path.split(".")[0]
    return get_value(cur, top) in (None, "")


def describe_missing(comp: Completeness) -> str:
    """``item 1: unit_price, currency; offer: valid_until`` for transitions and events."""
    parts = [f"item {pos + 1}: {', '.join(f)}" for pos, f in comp.missing_items.items()]
    if comp.missing_offer:
        parts.append(f"offer: {', '.join(comp.missing_offer)}")
    return "; ".join(parts)


def _move(
    con: Con, offer_id: int, state: str, to: str, actor: str, why: str, mail: _Mail,
    now: dt.datetime,
) -> str:  # fmt: skip
    if state != to:
        offers.transition(con, offer_id, to, actor=actor, reason=why, mail_id=mail.mail_id,
                          now=now, from_state=state)  # fmt: skip
    return to


def _advance(
    db: Database,
    con: Con,
    settings: Settings,
    offer_id: int,
    mail: _Mail,
    doubts: list[str],
    now: dt.datetime,
    deliveries: list[Delivery],
    *,
    actor: str,
) -> None:
    """Judge the offer and take the next step of the state machine."""
    d = settings.dialogue
    cur = offers.load(con, offer_id)
    supplier = suppliers.by_id(con, cur["supplier_id"])
    # Review reasons of two kinds. Doubts about the record (the caller's: a changed value, a
    # thread sender mismatch; and its conflicts, from ``evaluate``) send it to review at once.
    # Doubts about the model's reading (low confidence; values the mail does not contain) do
    # not stop the question for missing fields: the supplier's answer replaces the doubtful
    # reading. They send the offer to review instead of ``complete`` once nothing is missing.
    unsure = model_doubts(con, settings, cur)
    comp = evaluate(cur, rules_for(d, supplier), doubts)
    reasons = [*comp.doubts, *unsure]
    con.execute(
        "UPDATE offers SET missing = ?, review_reasons = ? WHERE id = ?",
        [json.dumps(comp.as_json()), json.dumps(reasons) if reasons else None, offer_id],
    )
    state = str(cur["state"])
    if comp.status == "doubtful" or (comp.status == "complete" and unsure):
        if state != NEEDS_REVIEW:
            _move(con, offer_id, state, NEEDS_REVIEW, actor, "; ".join(reasons), mail, now)
        return
    if comp.status == "complete":
        if state == NEEDS_REVIEW:
            return  # a person decides; a later reply does not close a review by itself
        _move(con, offer_id, state, COMPLETE, actor, "all required fields are present", mail, now)
        _queue(db, con, settings, cur, supplier, mail, "ack", None, comp, now, deliveries)
        return
    missing = describe_missing(comp)
    if state == NEEDS_REVIEW:
        return
    state = _move(con, offer_id, state, INCOMPLETE, actor, f"missing {missing}", mail, now)
    rounds = int(cur["rounds"] or 0)
    if rounds >= d.max_rounds:
        why = f"still missing after {rounds} round(s) of questions: {missing}"
        _move(con, offer_id, state, NEEDS_REVIEW, "dialogue", why, mail, now)
        return
    refused = _queue(
        db, con, settings, cur, supplier, mail, "clarification", rounds + 1, comp, now, deliveries
    )
    if refused:
        if supplier is None or supplier.registered or d.unknown_senders != "ignore":
            why = f"cannot ask the supplier: {refused}"
            _move(con, offer_id, state, NEEDS_REVIEW, "dialogue", why, mail, now)
        return
    con.execute(
        "UPDATE offers SET rounds = ?, reminders = 0, next_action_at = ? WHERE id = ?",
        [rounds + 1, now + dt.timedelta(hours=d.reminder_after_h), offer_id],
    )
    why = f"clarification round {rounds + 1} asks for {missing}"
    _move(con, offer_id, state, AWAITING, "dialogue", why, mail, now)


def _queue(
    db: Database,
    con: Con,
    settings: Settings,
    cur: dict[str, Any],
    supplier: suppliers.Supplier | None,
    mail: _Mail,
    kind: str,
    round_no: int | None,
    comp: Completeness,
    now: dt.datetime,
    deliveries: list[Delivery],
) -> str | None:
    """Write the outbox row of one automatic e-mail (or its suppression); returns the reason
    it was suppressed, None when it is queued."""
    offer_id = int(cur["id"])
    to = cur["contact_addr"]
    idem = f"offer:{offer_id}:{kind}" + (f":{round_no}" if round_no is not None else "")
    refused = policy.refusal(
        settings.dialogue, supplier, to, mail.automatic, kind,
        outbox.sent_last_day(con, to, now) if to else 0, channel=mail.channel,
    ) or rederive.refusal(con, mail.mail_id)  # fmt: skip
    if refused:
        outbox.add(con, idem_key=idem, offer_id=offer_id, mail_id=mail.mail_id, kind=kind,
                   round_no=round_no, to_addr=to, state=outbox.SUPPRESSED, reason=refused,
                   now=now)  # fmt: skip
        repo.add_event(db, "dialogue", f"{kind}_suppressed", mail_id=mail.mail_id,
                       offer_id=offer_id, detail=refused)  # fmt: skip
        return refused
    msg = _compose(con, settings, cur, supplier, mail, kind, round_no, comp, idem)
    raw = msg.to_bytes()
    oid, created = outbox.add(
        con, idem_key=idem, offer_id=offer_id, mail_id=mail.mail_id, kind=kind,
        round_no=round_no, to_addr=to, state=outbox.QUEUED, now=now, subject=msg.subject,
        message_id=msg.message_id, in_reply_to=msg.in_reply_to, language=msg.language, raw=raw,
    )  # fmt: skip
    if created:
        deliveries.append(Delivery(oid, idem, to, msg.message_id, raw))
    return None


def _compose(
    con: Con,
    settings: Settings,
    cur: dict[str, Any],
    supplier: suppliers.Supplier | None,
    mail: _Mail,
    kind: str,
    round_no: int | None,
    comp: Completeness,
    idem: str,
) -> Outgoing:
    o = settings.outbox
    # Message-IDs derive from the idempotency key and the offer's random token: stable for one
    # e-mail, unique across offers, databases and installations (a late reply to an old thread
    # can never match a new offer that reused an id).
    language = next(
        (x for x in (mail.language, supplier.language if supplier else None, cur["language"])
         if x and x != "und"),
        "en",
    )  # fmt: skip
    name_row = con.execute("SELECT from_name FROM mails WHERE id = ?", [cur["mail_id"]]).fetchone()
    common: dict[str, Any] = {
        "language": language, "token": cur["token"], "to_addr": cur["contact_addr"],
        "to_name": name_row[0] if name_row else None, "from_addr": o.from_addr,
        "from_name": o.from_name, "original_subject": cur["subject"],
        "in_reply_to": mail.message_id, "references": mail.references,
        "idem_key": f"{idem}:{cur['token']}", "id_domain": o.id_domain,
    }  # fmt: skip
    if kind == "ack":
        return compose_ack(item_names=[i["product_name"] for i in cur["items"]], **common)
    asked = [
        AskedItem(pos + 1, cur["items"][pos]["product_name"], fields)
        for pos, fields in comp.missing_items.items()
    ]
    return compose_questions(
        kind=kind, items=asked, offer_missing=comp.missing_offer, round_no=round_no or 1,
        max_rounds=settings.dialogue.max_rounds, extra=extra_fields(settings), **common,
    )  # fmt: skip


def due_actions(db: Database, settings: Settings, now: dt.datetime | None = None) -> list[Delivery]:
    """Offers whose supplier has not answered in time: a reminder first, then review."""
    now = now or utcnow()
    deliveries: list[Delivery] = []
    d = settings.dialogue
    with db.transaction() as con:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT id FROM offers WHERE state = ? AND next_action_at <= ? ORDER BY id",
                [AWAITING, now],
            ).fetchall()
        ]
        for offer_id in ids:
            cur = offers.load(con, offer_id)
            thread = _thread_of(con, offer_id)
            mail = _Mail(None, thread[-1] if thread else None, thread[:-1], None, [])
            if cur["reminders"]:
                why = f"no answer to round {cur['rounds']} after a reminder"
                _move(con, offer_id, AWAITING, NEEDS_REVIEW, "scheduler", why, mail, now)
                continue
            supplier = suppliers.by_id(con, cur["supplier_id"])
            comp = evaluate(cur, rules_for(d, supplier))
            if comp.status != "incomplete":
                continue
            refused = _queue(db, con, settings, cur, supplier, mail, "reminder", cur["rounds"],
                             comp, now, deliveries)  # fmt: skip
            if refused:
                why = f"cannot remind the supplier: {refused}"
                _move(con, offer_id, AWAITING, NEEDS_REVIEW, "scheduler", why, mail, now)
                continue
            con.execute(
                "UPDATE offers SET reminders = reminders + 1, next_action_at = ? WHERE id = ?",
                [now + dt.timedelta(hours=d.reminder_after_h), offer_id],
            )
            why = f"reminder for round {cur['rounds']}: no answer after {d.reminder_after_h:g} h"
            offers.transition(con, offer_id, AWAITING, actor="scheduler", reason=why, now=now,
                              from_state=AWAITING)  # fmt: skip
    return deliveries


def _thread_of(con: Con, offer_id: int) -> list[str]:
    """Message-IDs of the thread in order: the supplier's mails and ours."""
    rows = con.execute(
        "SELECT message_id FROM (SELECT message_id, linked_at AS ts, 0 AS k, mail_id AS i"
        " FROM offer_mails WHERE offer_id = ? UNION ALL SELECT message_id, created_at, 1, id"
        " FROM outbox WHERE offer_id = ? AND state <> 'suppressed')"
        " WHERE message_id IS NOT NULL ORDER BY ts, k, i",
        [offer_id, offer_id],
    ).fetchall()
    return [r[0] for r in rows]


def close_offer(db: Database, offer_id: int, actor: str, reason: str) -> None:
    """Close an offer (no more questions, reminders or merges)."""
    with db.transaction() as con:
        offers.transition(con, offer_id, CLOSED, actor=actor, reason=reason, now=utcnow())
