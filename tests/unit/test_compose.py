"""Outbound e-mails: templates plus sanitized values only, safe headers, parseable bytes."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from appliance.workflow.compose import (
    FIELD_LABELS,
    SUPPORTED_LANGUAGES,
    TOKEN_RE,
    AskedItem,
    Outgoing,
    compose_ack,
    compose_questions,
    make_message_id,
    new_token,
    reply_subject,
    sanitize,
)
from appliance.workflow.labels import OFFER_FIELDS, TEXTS

TOKEN = "Q-7K3M9P"


def _questions(**over: Any) -> Outgoing:
    args: dict[str, Any] = {
        "kind": "clarification",
        "language": "en",
        "token": TOKEN,
        "to_addr": "anna@supplier.example",
        "to_name": "Anna Petrova",
        "from_addr": "purchasing@buyer.example",
        "from_name": "Purchasing",
        "original_subject": "Offer for office chairs",
        "in_reply_to": "<orig-2@supplier.example>",
        "references": ["<orig-1@supplier.example>"],
        "items": [
            AskedItem(number=1, name="Office chair Ergo", missing=["unit_price", "currency"]),
            AskedItem(number=2, name="Desk 120x60", missing=["quantity|moq", "dimensions"]),
        ],
        "offer_missing": ["payment_terms"],
        "round_no": 1,
        "max_rounds": 2,
        "idem_key": "offer-1/round-1",
        "id_domain": "buyer.example",
    }
    return compose_questions(**{**args, **over})


def _parse(out: Outgoing) -> EmailMessage:
    msg = email.message_from_bytes(out.to_bytes(), policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


# --- sanitize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "see https://evil.example/pay?x=1 now",
        "write to bob@evil.example please",
        "go to www.evil.example/login",
        "ftp://files.evil.example/a",
    ],
)
def test_sanitize_drops_urls_and_addresses(text: str) -> None:
    out = sanitize(text)
    assert "://" not in out and "@" not in out and "www." not in out
    assert not re.search(r"[^\W\d_]\.[^\W\d_]", out)  # nothing looks like a domain


def test_sanitize_drops_markup_newlines_and_invisible_characters() -> None:
    out = sanitize("Chair <script>alert('x')</script>\r\nBcc: a\tb\u200b\u202ec\x00d")
    assert not set(out) & set("<>:\r\n\t\u200b\u202e\x00\\")
    assert out.startswith("Chair script")


def test_sanitize_keeps_product_text() -> None:
    assert sanitize("  Стол «Офис» 120×60, 75% #3 & Co. (new) ") == (
        "Стол Офис 120×60, 75% #3 & Co. (new)"
    )
    assert sanitize("Ｏｆｆｉｃｅ chair") == "Office chair"  # NFKC
    assert sanitize(None) == "" and sanitize("<<>>") == ""


def test_sanitize_truncates_on_a_word_boundary() -> None:
    out = sanitize("alpha beta gamma delta epsilon", 18)
    assert out == "alpha beta gamma…" and len(out) <= 18
    assert sanitize("short", 18) == "short"
    assert len(sanitize("x" * 100, 10)) == 10


# --- tokens, ids, subjects ----------------------------------------------------------------------


def test_new_token_is_crockford_and_found_in_subjects() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) > 45
    for t in tokens:
        assert re.fullmatch(r"Q-[0-9A-HJKMNP-TV-Z]{6}", t)
        m = TOKEN_RE.search(f"Re: Your offer [{t}]")
        assert m is not None and m.group(1) == t


def test_message_id_is_deterministic() -> None:
    a = make_message_id("k1", "buyer.example")
    assert a == make_message_id("k1", "buyer.example") != make_message_id("k2", "buyer.example")
    assert re.fullmatch(r"<sma\.[0-9a-f]{24}@buyer\.example>", a)
    with pytest.raises(ValueError):
        make_message_id("k1", "evil>\r\nBcc: x")


def test_reply_subject_strips_prefixes_and_old_tokens() -> None:
    s = reply_subject("RE: Fwd: AW: Ответ: Offer for chairs [Q-ABCDEF]", TOKEN, "en")
    assert s == f"Re: Offer for chairs [{TOKEN}]"
    assert TOKEN_RE.findall(s) == [TOKEN]


def test_reply_subject_falls_back_and_sanitizes() -> None:
    assert reply_subject(None, TOKEN, "en") == f"Re: Your offer [{TOKEN}]"
    assert reply_subject("Re: <>", TOKEN, "ru") == f"Re: Ваше предложение [{TOKEN}]"
    s = reply_subject("Price list http://evil.example " + "word " * 30, TOKEN, "de")
    assert "http" not in s and s.endswith(f"[{TOKEN}]") and len(s) <= 4 + 60 + 11
    with pytest.raises(ValueError):
        reply_subject("x", "Q-ILOU00", "en")


# --- headers and bytes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["subject", "to_addr", "from_addr", "from_name", "message_id", "in_reply_to"]
)
def test_header_injection_is_rejected(field: str) -> None:
    out = _questions()
    values = {**out.__dict__, field: "x@y.example\r\nBcc: victim@z.example"}
    with pytest.raises(ValueError):
        Outgoing(**values).to_bytes()


def test_injected_reference_and_multiple_recipients_are_rejected() -> None:
    out = _questions(references=["<a@b>\nBcc: victim@z.example"])
    with pytest.raises(ValueError):
        out.to_bytes()
    with pytest.raises(ValueError):
        _questions(to_addr="a@x.example, b@y.example").to_bytes()


def test_to_bytes_parses_back() -> None:
    out = _questions(
        language="ru", from_name="Отдел закупок", references=["<r1@x>", "<r2@x>", "<r1@x>"]
    )
    msg = _parse(out)
    assert msg["To"] == "anna@supplier.example"
    assert msg["From"].addresses[0].display_name == "Отдел закупок"
    assert msg["From"].addresses[0].addr_spec == "purchasing@buyer.example"
    assert msg["Subject"] == f"Re: Offer for office chairs [{TOKEN}]"
    assert msg["Message-ID"] == make_message_id("offer-1/round-1", "buyer.example")
    assert msg["In-Reply-To"] == "<orig-2@supplier.example>"
    assert msg["References"].split() == ["<r1@x>", "<r2@x>", "<orig-2@supplier.example>"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Appliance-Kind"] == "clarification"
    assert msg["MIME-Version"] == "1.0" and msg["Date"] is not None
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    body = msg.get_content()
    assert "Цена за единицу: " in body and "Office chair Ergo" in body
    assert body.replace("\r\n", "\n") == out.body
    raw = out.to_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_optional_reply_headers_are_left_out() -> None:
    msg = _parse(_questions(in_reply_to=None, references=[]))
    assert msg["In-Reply-To"] is None and msg["References"] is None


# --- bodies -------------------------------------------------------------------------------------


def test_english_question_is_an_answer_form() -> None:
    out = _questions()
    lines = out.body.splitlines()
    assert lines[0] == "Dear Anna Petrova,"
    assert "1. Office chair Ergo" in lines and "2. Desk 120x60" in lines
    i = lines.index("1. Office chair Ergo")
    assert lines[i + 1 : i + 3] == ["   Unit price: ", "   Currency: "]
    j = lines.index("2. Desk 120x60")
    assert lines[j + 1 : j + 3] == [
        "   Quantity or minimum order: ",
        "   Dimensions (L x W x H, unit): ",
    ]
    k = lines.index("Offer:")
    assert lines[k + 1] == "   Payment terms: "
    assert f"[{TOKEN}]" in out.body and out.body.rstrip().endswith("Purchasing")
    assert out.kind == "clarification" and out.language == "en"


def test_russian_question_has_russian_labels_and_names() -> None:
    out = _questions(language="ru-RU", to_name=None, items=[
        AskedItem(number=3, name="Стол офисный", missing=["unit_price", "lead_time_days"]),
    ])  # fmt: skip
    assert out.language == "ru" and out.body.startswith("Здравствуйте!")
    assert "3. Стол офисный\n   Цена за единицу: \n   Срок поставки (дней): \n" in out.body
    assert "Предложение:\n   Условия оплаты: " in out.body
    assert "С уважением," in out.body


def test_unknown_language_falls_back_to_english() -> None:
    assert _questions(language="de").language == "en"
    assert SUPPORTED_LANGUAGES == ("en", "ru")


def test_nothing_of_the_suppliers_mail_leaks_into_the_body() -> None:
    out = _questions(
        to_name="Eve <eve@evil.example>",
        original_subject="Offer http://evil.example/x",
        items=[AskedItem(number=1, name="Chair\nClick https://evil.example", missing=["sku"])],
    )
    assert "@" not in out.body and "http" not in out.body
    assert "Dear Eve," in out.body and "1. Chair Click\n" in out.body


def test_later_rounds_and_reminders_say_so() -> None:
    assert TEXTS["en"]["thanks_again"] in _questions(round_no=2).body
    reminder = _questions(kind="reminder")
    assert reminder.kind == "reminder" and "reminder" in reminder.body
    assert "Напоминаем" in _questions(kind="reminder", language="ru").body


def test_questions_validate_their_input() -> None:
    with pytest.raises(ValueError):
        _questions(items=[], offer_missing=[])
    with pytest.raises(ValueError):
        _questions(kind="spam")
    with pytest.raises(ValueError):
        _questions(offer_missing=["colour"])


def test_items_without_missing_fields_are_not_listed() -> None:
    out = _questions(items=[AskedItem(number=1, name="Chair", missing=[])])
    assert "1. Chair" not in out.body and "Payment terms: " in out.body


def test_every_language_labels_the_same_fields() -> None:
    assert set(FIELD_LABELS["en"]) == set(FIELD_LABELS["ru"])
    assert set(FIELD_LABELS["en"]) >= OFFER_FIELDS
    for labels in FIELD_LABELS.values():
        assert all(":" not in label for label in labels.values())


def test_ack_lists_sanitized_names() -> None:
    names = [f"Item <b>{i}</b>" for i in range(12)]
    out = compose_ack(
        language="en", token=TOKEN, to_addr="anna@supplier.example", to_name="Anna",
        from_addr="purchasing@buyer.example", from_name="Purchasing",
        original_subject="Re: Offer", in_reply_to="<x@y>", references=[], item_names=names,
        idem_key="ack-1", id_domain="buyer.example",
    )  # fmt: skip
    assert out.kind == "ack" and "- Item b 0 /b" in out.body and "- and 2 more" in out.body
    assert "<" not in out.body and out.body.count("\n- ") == 11
    msg = _parse(out)
    assert msg["X-Appliance-Kind"] == "ack" and msg["References"] == "<x@y>"
