"""Who may get an automatic e-mail: RFC 3834 and list/bounce detection, supplier policy, limits.

Pure functions over header facts and settings; the dialogue calls them before anything is
queued, and every refusal becomes a ``suppressed`` outbox row carrying the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from appliance.settings import DialogueSettings
from appliance.store.suppliers import Supplier

_NOREPLY = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer[-_.]daemon|postmaster|bounces?"
    r"|notifications?|auto[-_.]?(reply|responder|confirm)|listserv|majordomo)([-+_.].*)?$",
    re.IGNORECASE,
)


def normalise_address(addr: str | None) -> str | None:
    """An e-mail address as compared everywhere: stripped and lowercased, None if not one."""
    if not addr:
        return None
    addr = addr.strip().strip("<>").strip().lower()
    return addr if re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", addr) else None


def domain_of(addr: str) -> str:
    return addr.rpartition("@")[2]


def automatic_mail_reasons(headers: Mapping[str, str], from_addr: str | None) -> list[str]:
    """Why a mail must never get an automatic answer (empty: a person wrote it).

    RFC 3834 ``Auto-Submitted`` other than ``no``; ``Precedence: bulk/list/junk``; mailing-list
    headers; bounces (empty ``Return-Path``, delivery reports); autoresponder markers; and
    ``noreply``-style or daemon sender addresses.
    """
    h = {k.lower(): (v or "").strip() for k, v in headers.items()}
    reasons: list[str] = []
    auto = h.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        reasons.append(f"auto-submitted: {auto}")
    prec = h.get("precedence", "").lower()
    if prec in ("bulk", "list", "junk", "auto_reply"):
        reasons.append(f"precedence: {prec}")
    if any(h.get(k) for k in ("list-id", "list-unsubscribe", "list-post")):
        reasons.append("mailing list")
    if "return-path" in h and h["return-path"].replace(" ", "") in ("<>", ""):
        reasons.append("bounce: empty return-path")
    if "multipart/report" in h.get("content-type", "").lower():
        reasons.append("bounce: delivery report")
    if h.get("x-autoreply") or h.get("x-autorespond"):
        reasons.append("autoresponder")
    if "all" in h.get("x-auto-response-suppress", "").lower().split(","):
        reasons.append("x-auto-response-suppress: all")
    addr = normalise_address(from_addr)
    if addr is None:
        reasons.append("no valid sender address")
    elif _NOREPLY.match(addr.partition("@")[0]):
        reasons.append(f"noreply address: {addr}")
    return reasons


def refusal(
    dialogue: DialogueSettings,
    supplier: Supplier | None,
    to_addr: str | None,
    automatic: list[str],
    kind: str,
    sent_last_day: int,
    *,
    channel: str | None = None,
) -> str | None:
    """Why an automatic e-mail of ``kind`` (clarification, reminder, ack) to ``to_addr`` must
    not go out, or None when it may. The recipient is always the offer's own sender address:
    nothing in a mail chooses it. ``channel``: the intake channel of a message that did not
    come by e-mail (``webform``, ``telegram`` …); replies to it go out by e-mail all the same,
    so without a sender address there is no way to answer."""
    if not dialogue.enabled:
        return "the supplier dialogue is switched off ([dialogue] enabled = false)"
    if channel and not to_addr:
        return (
            f"the message came through the {channel!r} channel without an e-mail address;"
            " replies go out by e-mail only"
        )
    if automatic:
        return "automatic mail (" + "; ".join(automatic) + ")"
    if not to_addr:
        return "no valid sender address to answer"
    if supplier is None or (not supplier.registered and dialogue.unknown_senders != "ask"):
        return (
            f"sender {to_addr} is not in the supplier registry (policy: {dialogue.unknown_senders})"
        )
    if kind in ("clarification", "reminder") and supplier.auto_questions is False:
        return f"automatic questions are off for supplier {supplier.name!r}"
    if kind == "ack":
        on = supplier.acknowledgements
        if on is False or (on is None and not dialogue.acknowledgements):
            return f"acknowledgements are off for supplier {supplier.name!r}"
    if sent_last_day >= dialogue.max_per_day:
        return (
            f"daily limit reached: {sent_last_day} automatic e-mails to {to_addr} in 24 h"
            f" (max_per_day = {dialogue.max_per_day})"
        )
    return None
