"""The intake API's pure parts: a channel message as RFC 822, the raw-mail check, the JSON
message's validation (the API answers each refusal with 400 and this reason)."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy

import pytest

from appliance.api.intake import parse_message
from appliance.errors import InvalidRequest
from appliance.mail.channel import ChannelMessage, build_message
from appliance.mail.intake import check_rfc822, header_meta
from appliance.preprocess.mime import parse_mail
from appliance.workflow.reading import thread_facts

NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def _built(**kw: object) -> bytes:
    return build_message(ChannelMessage.model_validate(kw), received_at=NOW)


def test_a_channel_message_becomes_a_mail() -> None:
    raw = _built(
        channel="webform", sender={"email": "Anna@Boltworks.example", "name": "Anna\r\nBcc: x@y.z"},
        subject="Offer\nbolts", text="Hex bolt M8, 1000 pcs, 0.12 EUR", html="<p>Hex bolt</p>",
        attachments=[{"filename": "../../price list.csv",
                      "content_base64": base64.b64encode(b"a;b\n1;2\n").decode()}],
    )  # fmt: skip
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == '"Anna Bcc: x@y.z" <anna@boltworks.example>'  # no injection
    assert "Bcc" not in msg and msg["Subject"] == "Offer bolts"
    assert msg["X-Appliance-Channel"] == "webform" and msg["Date"].datetime == NOW
    assert msg.get_body(("plain",)).get_content().strip() == "Hex bolt M8, 1000 pcs, 0.12 EUR"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Hex bolt</p>"
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "price list.csv" and att.get_content_type() == "text/csv"
    assert att.get_payload(decode=True) == b"a;b\n1;2\n"
    mail = parse_mail(raw)
    assert mail.from_addr == "anna@boltworks.example"
    assert thread_facts(mail).channel == "webform"
    check_rfc822(raw)


def test_a_sender_without_an_address_has_a_name_only() -> None:
    raw = _built(channel="telegram", sender={"name": "Ivan", "id": "tg:55"}, text="washers")
    meta = header_meta(raw)
    assert meta.from_name == "Ivan" and meta.from_addr is None
    facts = thread_facts(parse_mail(raw))
    assert facts.from_addr is None and facts.channel == "telegram"
    assert b"X-Appliance-Sender-Id: tg:55" in raw
    anonymous = header_meta(_built(channel="telegram", text="washers"))
    assert anonymous.from_name == "telegram sender" and anonymous.from_addr is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty body"),
        (b"  \r\n", "empty body"),
        (b"just some text", "not an RFC 822 message"),
        (b"From a@b.example Mon Jan  1 00:00:00 2026\nFrom: a@b.example\n\nx", "mbox"),
        (b"Subject: hi\n\nno sender", "no From header"),
    ],
)
def test_what_is_not_a_mail_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        check_rfc822(raw)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'"text"', "must be a JSON object"),
        (b'{"text": "x"}', "channel: Field required"),
        (b'{"channel": "webform"}', "missing text"),
        (b'{"channel": "webform", "html": " "}', "missing text"),
        (b'{"channel": "webform", "text": "x", "colour": "red"}', "colour: Extra inputs"),
        (b'{"channel": "webform", "text": "x", "sender": {"email": "a@b"}}', "sender.email"),
        (b'{"channel": "webform", "text": "x", "idempotency_key": "a b"}', "idempotency_key"),
        (
            b'{"channel": "webform", "text": "x", "attachments": [{"filename": "a",'
            b' "content_base64": "abc"}]}',
            r"attachments\[0\].content_base64 is not valid base64",
        ),
    ],
)
def test_a_bad_json_message_is_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        parse_message(body)


def test_a_good_json_message_parses() -> None:
    body = b'{"channel": "webform", "text": "x", "sender": {"email": " A@B.example "}}'
    m = parse_message(body)
    assert m.sender.email == "a@b.example" and m.idempotency_key is None
