"""Who never gets an automatic e-mail: header and address rules, registry policy, limits."""

from __future__ import annotations

import pytest

from appliance.settings import DialogueSettings
from appliance.store.suppliers import Supplier
from appliance.workflow.policy import automatic_mail_reasons, normalise_address, refusal

PERSON = "anna.berg@boxworks.example"


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, PERSON, "auto-submitted: auto-replied"),
        ({"Auto-Submitted": "auto-generated; owner=x@y"}, PERSON, "auto-submitted: auto-generated"),
        ({"Precedence": "bulk"}, PERSON, "precedence: bulk"),
        ({"Precedence": "list"}, PERSON, "precedence: list"),
        ({"List-Id": "<offers.lists.example>"}, PERSON, "mailing list"),
        ({"List-Unsubscribe": "<mailto:u@x.example>"}, PERSON, "mailing list"),
        ({"Return-Path": "<>"}, PERSON, "bounce: empty return-path"),
        ({"Content-Type": "multipart/report; report-type=delivery-status"}, PERSON,
         "bounce: delivery report"),
        ({"X-Autoreply": "yes"}, PERSON, "autoresponder"),
        ({}, "noreply@shop.example", "noreply address: noreply@shop.example"),
        ({}, "no-reply+offers@shop.example", "noreply address: no-reply+offers@shop.example"),
        ({}, "MAILER-DAEMON@mx.example", "noreply address: mailer-daemon@mx.example"),
        ({}, "not an address", "no valid sender address"),
    ],
)  # fmt: skip
def test_automatic_mail_is_recognised(headers: dict[str, str], sender: str, reason: str) -> None:
    assert reason in automatic_mail_reasons(headers, sender)


def test_a_person_writing_is_not_automatic() -> None:
    headers = {"Auto-Submitted": "no", "Return-Path": "<anna.berg@boxworks.example>"}
    assert automatic_mail_reasons(headers, PERSON) == []
    assert normalise_address(" <Anna.Berg@BoxWorks.example> ") == PERSON


def _supplier(**kw: object) -> Supplier:
    base: dict[str, object] = {
        "id": 1, "name": "BoxWorks", "registered": True, "language": None,
        "auto_questions": None, "acknowledgements": None, "offer_fields": None,
        "item_fields": None,
    }  # fmt: skip
    return Supplier(**{**base, **kw})  # type: ignore[arg-type]


def test_refusal_rules() -> None:
    d = DialogueSettings()
    ok = _supplier()
    assert refusal(d, ok, PERSON, [], "clarification", 0) is None
    assert "automatic mail" in (refusal(d, ok, PERSON, ["precedence: bulk"], "ack", 0) or "")
    assert "no valid sender" in (refusal(d, ok, None, [], "clarification", 0) or "")
    stranger = _supplier(registered=False)
    assert refusal(d, stranger, PERSON, [], "clarification", 0) is None  # policy "ask"
    d.unknown_senders = "review"
    assert "not in the supplier registry" in (refusal(d, stranger, PERSON, [], "ack", 0) or "")
    assert "questions are off" in (
        refusal(d, _supplier(auto_questions=False), PERSON, [], "reminder", 0) or ""
    )
    assert "acknowledgements are off" in (
        refusal(d, _supplier(acknowledgements=False), PERSON, [], "ack", 0) or ""
    )
    d.acknowledgements = False
    assert refusal(d, ok, PERSON, [], "ack", 0) is not None
    assert refusal(d, _supplier(acknowledgements=True), PERSON, [], "ack", 0) is None
    assert "daily limit" in (refusal(d, ok, PERSON, [], "clarification", 5) or "")
    d.enabled = False
    assert "switched off" in (refusal(d, ok, PERSON, [], "clarification", 0) or "")


def test_a_channel_message_without_an_address_says_so() -> None:
    """A message taken by the intake API (web form, messenger) without an e-mail address
    cannot be answered; the reason names the channel, also where the address check of
    ``automatic_mail_reasons`` flagged it."""
    d = DialogueSettings()
    why = refusal(
        d, None, None, ["no valid sender address"], "clarification", 0, channel="telegram"
    )
    assert why is not None and "'telegram' channel without an e-mail address" in why
    # With an address, a channel message is answered like any mail.
    assert refusal(d, _supplier(), PERSON, [], "clarification", 0, channel="webform") is None
