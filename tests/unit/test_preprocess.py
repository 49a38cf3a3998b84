"""Unit tests of appliance.preprocess: every mail here is built in this file or written by hand
in tests/data/mails/preprocess/ (no real mail data)."""

from __future__ import annotations

import base64
import contextlib
import quopri
import random
from email.message import EmailMessage
from pathlib import Path

import pytest

from appliance.errors import EmptyMail, MailTooLarge, MalformedMail, PermanentError
from appliance.preprocess import Attachment, ParsedMail, parse_mail
from appliance.preprocess.charsets import decode_bytes, normalize_charset
from appliance.preprocess.headers import decode_header_value
from appliance.preprocess.html import html_to_text
from appliance.preprocess.language import detect_language
from appliance.preprocess.quotes import is_forward_subject, strip_quotes

DATA = Path(__file__).resolve().parent.parent / "data" / "mails" / "preprocess"
RU = "Добрый день! Предлагаем гвозди оцинкованные 50 мм по цене 120 руб. за кг, срок 10 дней."


def mail(
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    cte: str = "8bit",
    subject: bytes = b"Offer",
    extra: bytes = b"",
) -> bytes:
    """A single-part raw mail."""
    return (
        b"From: Supplier <sales@supplier.example>\r\n"
        b"To: buyer@example.com\r\n"
        b"Subject: " + subject + b"\r\n"
        b"Message-ID: <m1@supplier.example>\r\n"
        b"MIME-Version: 1.0\r\n" + extra + b"Content-Type: " + content_type.encode() + b"\r\n"
        b"Content-Transfer-Encoding: " + cte.encode() + b"\r\n\r\n" + body
    )


def text_mail(text: str, subject: str = "Offer") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Supplier <sales@supplier.example>"
    msg["To"] = "buyer@example.com"
    msg["Subject"] = subject
    msg.set_content(text)
    return msg.as_bytes()


# -- structure and body choice ------------------------------------------------------------


def test_multipart_alternative_prefers_plain() -> None:
    msg = EmailMessage()
    msg["From"] = "Supplier <sales@supplier.example>"
    msg["To"] = "buyer@example.com"
    msg["Subject"] = "Offer"
    msg.set_content("Plain version: nails 1.20 EUR/kg.\n")
    msg.add_alternative("<html><body><p>HTML version: nails 1.20 EUR/kg.</p></body></html>", "html")
    parsed = parse_mail(msg.as_bytes())
    assert isinstance(parsed, ParsedMail)
    assert parsed.body_text == "Plain version: nails 1.20 EUR/kg."
    assert "HTML version" not in parsed.text
    assert "html converted" not in parsed.warnings
    assert parsed.attachments == []


def test_alternative_with_stub_plain_uses_html() -> None:
    msg = EmailMessage()
    msg["From"] = "s@supplier.example"
    msg.set_content("View this mail in an HTML client.")
    rows = "".join(f"<tr><td>Item {i}</td><td>{i}.00 EUR</td></tr>" for i in range(30))
    msg.add_alternative(f"<table>{rows}</table>", "html")
    parsed = parse_mail(msg.as_bytes())
    assert "Item 7 | 7.00 EUR" in parsed.text
    assert "plain alternative is a stub; html used" in parsed.warnings


def test_html_only_price_table_becomes_rows() -> None:
    html = """<html><head><title>Offer</title><style>td {color: red}</style></head>
    <body><script>alert('x')</script><p>Dear&nbsp;customer,&nbsp;our prices:</p>
    <table><tr><th>Product</th><th>Qty</th><th>Price</th></tr>
    <tr><td>Nails 50&nbsp;mm</td><td>500 kg</td><td>1.20 &euro;/kg</td></tr>
    <tr><td>Screws<br>M4</td><td>1000 pcs</td><td>0.05 &#8364;</td></tr></table>
    <ul><li>Delivery: 14 days</li><li>Payment: 30 days net</li></ul>
    Valid&nbsp;until 31.12.2026<br>Best regards</body></html>"""
    parsed = parse_mail(mail(html.encode(), content_type="text/html; charset=utf-8"))
    lines = parsed.text.splitlines()
    assert "Product | Qty | Price" in lines
    assert "Nails 50 mm | 500 kg | 1.20 €/kg" in lines
    assert "Screws M4 | 1000 pcs | 0.05 €" in lines
    assert "- Delivery: 14 days" in lines
    assert "Valid until 31.12.2026" in lines
    assert "alert" not in parsed.body_text and "color" not in parsed.body_text
    assert "Offer" not in parsed.body_text  # <title> is in <head>: dropped
    assert "html converted" in parsed.warnings
    assert parsed.language == "en"


def test_html_charset_from_meta_tag() -> None:
    html = '<html><head><meta charset="windows-1251"></head><body>Цена 120 руб.</body></html>'
    parsed = parse_mail(mail(html.encode("cp1251"), content_type="text/html"))
    assert parsed.text == "Цена 120 руб."


# -- charsets -----------------------------------------------------------------------------


def test_cp1251_body() -> None:
    parsed = parse_mail(mail(RU.encode("cp1251"), content_type="text/plain; charset=windows-1251"))
    assert parsed.text == RU
    assert parsed.language == "ru"
    assert not [w for w in parsed.warnings if "charset" in w]


def test_koi8r_body_base64() -> None:
    body = base64.encodebytes(RU.encode("koi8_r"))
    parsed = parse_mail(mail(body, content_type='text/plain; charset="KOI8-R"', cte="base64"))
    assert parsed.text == RU
    assert parsed.language == "ru"


def test_mislabelled_latin1_is_cp1251() -> None:
    body = quopri.encodestring(RU.encode("cp1251"))
    parsed = parse_mail(
        mail(body, content_type="text/plain; charset=iso-8859-1", cte="quoted-printable")
    )
    assert parsed.text == RU
    assert "charset iso-8859-1 declared but cp1251 detected" in parsed.warnings


@pytest.mark.parametrize(("declared", "codec"), [("us-ascii", "koi8_r"), ("utf-8", "cp1251")])
def test_other_mislabels_detected(declared: str, codec: str) -> None:
    parsed = parse_mail(mail(RU.encode(codec), content_type=f"text/plain; charset={declared}"))
    assert parsed.text == RU
    assert any(f"charset {declared} declared but" in w for w in parsed.warnings)


def test_missing_charset_utf8_bytes() -> None:
    text = "Prix: 12,50 € — livraison à Besançon. " + RU
    parsed = parse_mail(mail(text.encode("utf-8"), content_type="text/plain"))
    assert parsed.text == text
    assert "no charset declared; utf-8 detected" in parsed.warnings


def test_western_text_not_mistaken_for_cyrillic() -> None:
    text = "Prix unitaire: 12,50 € — livraison à Besançon, délai très court. Müller Straße."
    parsed = parse_mail(mail(text.encode("cp1252"), content_type="text/plain; charset=iso-8859-1"))
    assert parsed.text == text
    assert parsed.warnings == []


@pytest.mark.parametrize(
    ("alias", "codec", "text"),
    [
        ("win-1251", "cp1251", RU),
        ("cp-1251", "cp1251", RU),
        ("x-cp1251", "cp1251", RU),
        ("windows1251", "cp1251", RU),
        ("koi8r", "koi8_r", RU),
        ("utf8", "utf-8", RU),
        ("unicode-1-1-utf-8", "utf-8", RU),
        ("ks_c_5601-1987", "cp949", "가격은 킬로그램당 120원입니다"),
    ],
)
def test_charset_aliases(alias: str, codec: str, text: str) -> None:
    parsed = parse_mail(mail(text.encode(codec), content_type=f"text/plain; charset={alias}"))
    assert parsed.text == text
    assert not [w for w in parsed.warnings if "charset" in w]


def test_normalize_charset_rejects_non_text_codecs() -> None:
    assert normalize_charset("base64") is None
    assert normalize_charset("unicode_escape") is None
    assert normalize_charset("no-such-charset") is None
    assert normalize_charset('"UTF-8"') == "utf-8"
    assert normalize_charset("utf-8*ru") == "utf-8"


def test_decode_bytes_never_raises() -> None:
    rng = random.Random(7)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
        for declared in (None, "utf-8", "us-ascii", "koi8-r", "bogus", "base64"):
            text, _ = decode_bytes(data, declared)
            assert isinstance(text, str)


def test_unknown_charset_detected() -> None:
    text, warnings = decode_bytes(RU.encode("cp1251"), "x-unknown")
    assert text == RU
    assert warnings == ["unknown charset 'x-unknown'; cp1251 detected"]


# -- headers ------------------------------------------------------------------------------


def test_rfc2047_headers_and_metadata() -> None:
    subj = base64.b64encode("Коммерческое предложение".encode("cp1251")).decode()
    raw = (
        b"From: =?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <Juergen.Mueller@Supplier.Example>\r\n"
        b"To: Buyer One <Buyer@Example.com>, =?windows-1251?B?yOLg7Q==?= <ivan@example.ru>\r\n"
        b"Subject: =?windows-1251?B?" + subj.encode() + b"?=\r\n"
        b"Date: Mon, 05 Jan 2026 13:00:00 +0300\r\n"
        b"Message-ID:  <abc.123@supplier.example> \r\n"
        b"In-Reply-To: <q1@example.com>\r\n"
        b"References: <q0@example.com>\r\n <q1@example.com>\r\n"
        b"Auto-Submitted: no\r\n"
        b"Reply-To: =?utf-8?B?0J7RgtC00LXQuyDQv9GA0L7QtNCw0LY=?= <sales@supplier.example>\r\n"
        b"X-Mailer: Hand-written\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Nails 1.20 EUR/kg\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.subject == "Коммерческое предложение"
    assert parsed.from_name == "Jürgen Müller"
    assert parsed.from_addr == "juergen.mueller@supplier.example"
    assert parsed.to == ["buyer@example.com", "ivan@example.ru"]
    assert parsed.date == "2026-01-05T10:00:00+00:00"
    assert parsed.message_id == "<abc.123@supplier.example>"
    assert parsed.in_reply_to == "<q1@example.com>"
    assert parsed.references == ["<q0@example.com>", "<q1@example.com>"]
    assert parsed.headers == {
        "Auto-Submitted": "no",
        "Content-Type": "text/plain; charset=utf-8",
        "Reply-To": "Отдел продаж <sales@supplier.example>",
        "X-Mailer": "Hand-written",
    }


def test_encoded_words_split_inside_a_character_are_joined() -> None:
    data = "Цена".encode()
    a, b = base64.b64encode(data[:3]).decode(), base64.b64encode(data[3:]).decode()
    assert decode_header_value(f"=?UTF-8?B?{a}?=\r\n =?UTF-8?B?{b}?= list") == "Цена list"
    assert decode_header_value("Re: =?utf-8?q?Preis_f=C3=BCr?= Nägel") == "Re: Preis für Nägel"
    assert decode_header_value("=?bogus?Q?abc?=") == "abc"
    assert decode_header_value("=?utf-8?B?@@@?=") == "=?utf-8?B?@@@?="


def test_raw_8bit_headers_and_bad_date() -> None:
    raw = mail(
        b"body",
        subject="Прайс-лист".encode(),
        extra=b"Date: yesterday-ish\r\n",
    ).replace(b"From: Supplier", "From: Иван Петров".encode("cp1251"))
    parsed = parse_mail(raw)
    assert parsed.subject == "Прайс-лист"
    assert parsed.from_name == "Иван Петров"
    assert parsed.date is None


def test_naive_date_is_taken_as_utc() -> None:
    parsed = parse_mail(mail(b"x", extra=b"Date: 5 Jan 2026 10:00:00 -0000\r\n"))
    assert parsed.date == "2026-01-05T10:00:00+00:00"


# -- quotes, signatures, forwards ---------------------------------------------------------


def test_quoted_reply_english_stripped() -> None:
    body = (
        "Hi, the price is 1.20 EUR/kg.\n\n"
        "On Mon, 5 Jan 2026 at 10:00, Buyer <buyer@example.com> wrote:\n"
        "> Please quote nails.\n> Thanks\n"
    )
    parsed = parse_mail(text_mail(body, "Re: nails"))
    assert parsed.text == "Hi, the price is 1.20 EUR/kg."
    assert "> Please quote nails." in parsed.body_text


def test_quoted_reply_russian_stripped() -> None:
    body = (
        "Цена 120 руб./кг, срок поставки 10 дней.\n\n"
        "С уважением,\nИван\n\n"
        "5 января 2026 г., 10:00, Покупатель <buyer@example.com> пишет:\n"
        "> Просим прислать цену.\n"
    )
    parsed = parse_mail(text_mail(body, "Re: гвозди"))
    assert parsed.text == "Цена 120 руб./кг, срок поставки 10 дней.\n\nС уважением,\nИван"
    assert parsed.language == "ru"


def test_wrapped_attribution_and_interleaved_answers() -> None:
    text = (
        "> What is the price?\n1.20 EUR/kg.\n> And the lead time?\n14 days.\n\n"
        "On Mon, 5 Jan 2026 at 10:00, A Very Long Name Of The Buyer <\n"
        "buyer@example.com> wrote:\n> old\n"
    )
    assert strip_quotes(text) == "1.20 EUR/kg.\n14 days."


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Исходное сообщение-----",
        "From: Buyer <buyer@example.com>\nSent: Monday, January 5, 2026 10:00 AM\n"
        "To: Sales\nSubject: RE: nails",
        "От: Покупатель\nОтправлено: 5 января 2026 г. 10:00\nКому: Продажи\nТема: гвозди",
    ],
)
def test_outlook_reply_headers_stripped(separator: str) -> None:
    text = f"Price 1.20 EUR/kg.\n\n________________________________\n{separator}\n\nold request\n"
    assert strip_quotes(text) == "Price 1.20 EUR/kg."


def test_outlook_reply_in_cp1251_mail() -> None:
    body = (
        "Цена 120 руб./кг.\r\n\r\n-----Исходное сообщение-----\r\n"
        "От: Покупатель\r\nТема: запрос\r\n\r\nПросим цену.\r\n"
    )
    parsed = parse_mail(mail(body.encode("cp1251"), content_type="text/plain; charset=cp1251"))
    assert parsed.text == "Цена 120 руб./кг."
    assert "Просим цену." in parsed.body_text


def test_logistics_lines_are_not_a_header_block() -> None:
    text = "Route offer:\nFrom: Hamburg\nTo: Moscow\nDate: 12.03.2026\nPrice: 2500 EUR"
    assert strip_quotes(text) == text


def test_signature_stripped_but_sign_off_kept() -> None:
    body = (
        "Price 1.20 EUR/kg.\n\nBest regards,\nJohn\n\nP.S. Valid until 31.12.2026.\n"
        "Sent from my iPhone\n-- \nJohn Smith | Supplier GmbH | +49 40 123456\n"
    )
    parsed = parse_mail(text_mail(body))
    assert (
        parsed.text == "Price 1.20 EUR/kg.\n\nBest regards,\nJohn\n\nP.S. Valid until 31.12.2026."
    )
    assert "+49 40 123456" in parsed.body_text


def test_gmail_forward_kept_file() -> None:
    parsed = parse_mail((DATA / "gmail_forward.eml").read_bytes())
    assert parsed.text.startswith("Please process this offer.\n\n---------- Forwarded message")
    assert "Colleague, Purchasing" not in parsed.text  # the forwarder's signature goes
    assert "galvanized nails 50 mm: 1.20 EUR/kg, MOQ 500 kg" in parsed.text
    assert "Supplier GmbH, Hamburg" in parsed.text  # the forwarded mail is kept verbatim
    assert parsed.date == "2026-01-06T08:15:00+00:00"


@pytest.mark.parametrize(
    "marker",
    [
        "-------- Пересылаемое сообщение --------",
        "Begin forwarded message:",
        "-------- Forwarded Message --------",
    ],
)
def test_forward_markers_kept(marker: str) -> None:
    text = f"FYI\n\n{marker}\nFrom: Supplier\n\nЦена 120 руб.\n> quoted inside\n"
    assert (
        strip_quotes(text) == f"FYI\n\n{marker}\nFrom: Supplier\n\nЦена 120 руб.\n> quoted inside"
    )


def test_outlook_forward_kept_when_subject_says_forward() -> None:
    body = (
        "See below.\n\nFrom: Supplier <sales@supplier.example>\nSent: Monday, January 5, 2026\n"
        "To: Buyer\nSubject: Offer\n\nNails 1.20 EUR/kg.\n"
    )
    assert is_forward_subject("FW: Offer") and is_forward_subject("Пересл: КП")
    assert not is_forward_subject("Re: Offer")
    parsed = parse_mail(text_mail(body, "FW: Offer"))
    assert "Nails 1.20 EUR/kg." in parsed.text
    assert strip_quotes(body) == "See below."


def test_forward_inside_quoted_history_is_cut() -> None:
    text = (
        "Thanks, noted.\n\nOn Tue, 6 Jan 2026, Buyer <b@example.com> wrote:\n"
        "> ---------- Forwarded message ---------\n"
        "---------- Forwarded message ---------\nold offer\n"
    )
    assert strip_quotes(text) == "Thanks, noted."


def test_only_quotes_keeps_full_body() -> None:
    body = "> quoted only\n> nothing else\n"
    parsed = parse_mail(text_mail(body))
    assert parsed.text == "> quoted only\n> nothing else"
    assert "quote stripping left no text; full body kept" in parsed.warnings


def test_html_blockquote_reply_stripped() -> None:
    html = (
        "<div>Price 1.20 EUR/kg</div><div class=gmail_quote>On Mon, 5 Jan 2026, B "
        "&lt;b@example.com&gt; wrote:<br><blockquote>Please quote</blockquote></div>"
    )
    parsed = parse_mail(mail(html.encode(), content_type="text/html; charset=utf-8"))
    assert parsed.text == "Price 1.20 EUR/kg"
    assert "> Please quote" in parsed.body_text


def test_format_flowed_is_unwrapped() -> None:
    body = b"Nails 50 mm, price 1.20 EUR per kg, \r\nlead time 14 days.\r\n-- \r\nSig\r\n"
    parsed = parse_mail(mail(body, content_type="text/plain; charset=utf-8; format=flowed"))
    assert parsed.text == "Nails 50 mm, price 1.20 EUR per kg, lead time 14 days."


# -- attachments --------------------------------------------------------------------------


def test_attachments_listed_and_not_body() -> None:
    msg = EmailMessage()
    msg["From"] = "Supplier <sales@supplier.example>"
    msg["Subject"] = "Offer"
    msg.set_content("Offer attached.")
    pdf = b"%PDF-1.4 fake pdf bytes" * 10
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="Прайс 2026.pdf")
    msg.add_attachment("sku;price\nA1;1.20\n", subtype="csv", filename="prices.csv")
    raw = msg.as_bytes()
    assert b"filename*=utf-8''" in raw  # EmailMessage writes RFC 2231 for non-ASCII names
    parsed = parse_mail(raw)
    assert parsed.body_text == "Offer attached."
    assert parsed.attachments == [
        Attachment("Прайс 2026.pdf", "application/pdf", len(pdf)),
        Attachment("prices.csv", "text/csv", len(b"sku;price\nA1;1.20\n")),
    ]


def test_rfc2047_filename_inline_image_and_signature_part() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    raw = (
        b"From: s@supplier.example\r\nSubject: Offer\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; boundary="S"; protocol="application/pkcs7-signature"'
        b"\r\n\r\n--S\r\n"
        b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n--M\r\n'
        b'Content-Type: multipart/related; boundary="R"\r\n\r\n--R\r\n'
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b'<p>Offer</p><img src="cid:logo">\r\n--R\r\n'
        b"Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\n" + base64.encodebytes(png) + b"--R--\r\n--M\r\n"
        b'Content-Type: application/vnd.ms-excel; name="=?utf-8?B?0KbQtdC90Ysu?= =?utf-8?B?eGxz?="'
        b"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"XLSDATA")
        + b"--M--\r\n--S\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n\r\n"
        b"MIIB\r\n--S--\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.body_text == "Offer"
    assert parsed.attachments == [
        Attachment(None, "image/png", len(png), inline=True),
        Attachment("Цены.xls", "application/vnd.ms-excel", 7),
    ]


def test_attached_message_included_as_forward() -> None:
    inner = EmailMessage()
    inner["From"] = "Supplier <sales@supplier.example>"
    inner["Subject"] = "=?utf-8?B?0JrQnw==?="
    inner.set_content("Nails 1.20 EUR/kg, lead time 14 days.")
    outer = EmailMessage()
    outer["From"] = "colleague@buyer.example"
    outer["Subject"] = "Fwd: KP"
    outer.set_content("See attached offer.")
    outer.add_attachment(inner)
    parsed = parse_mail(outer.as_bytes())
    assert "See attached offer." in parsed.text
    assert "Subject: КП" in parsed.text
    assert "Nails 1.20 EUR/kg, lead time 14 days." in parsed.text
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]
    assert parsed.attachments[0].size > 0


def test_attachment_only_mail_is_not_empty() -> None:
    msg = EmailMessage()
    msg["From"] = "s@supplier.example"
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="../../a.pdf")
    parsed = parse_mail(msg.as_bytes())
    assert parsed.text == "" and parsed.language == "und"
    assert parsed.attachments == [Attachment("a.pdf", "application/pdf", 4)]


# -- limits and errors --------------------------------------------------------------------


def test_malformed_mime_does_not_crash() -> None:
    parsed = parse_mail((DATA / "malformed_boundary.eml").read_bytes())
    assert "Nails 50 mm, 120 EUR per box" in parsed.body_text
    assert parsed.message_id == "<broken-1@broken.example>"
    assert parsed.from_addr == "sales@broken.example"
    assert parsed.date is None
    assert parsed.to == ["buyer@example.com"]
    assert "dropped 1 malformed header line(s)" in parsed.warnings
    assert "multipart boundary repaired: ==WRONG==" in parsed.warnings
    assert any(w.startswith("MIME defects:") for w in parsed.warnings)


def test_headerless_text_keeps_its_lines() -> None:
    parsed = parse_mail(b"Note: price 5 EUR\nsecond line\n\nthird line\n")
    assert parsed.body_text == "second line\n\nthird line"
    assert not any(w.startswith("dropped") for w in parsed.warnings)


def test_unrepairable_multipart_read_as_text() -> None:
    raw = mail(b"no boundary lines at all, price 5 EUR", content_type="multipart/mixed; boundary=Q")
    parsed = parse_mail(raw)
    assert parsed.text == "no boundary lines at all, price 5 EUR"
    assert "broken multipart structure; raw payload read as plain text" in parsed.warnings


def test_garbage_input_raises_only_permanent_errors() -> None:
    rng = random.Random(3)
    seed = (DATA / "gmail_forward.eml").read_bytes() + text_mail("x" * 50)
    for _ in range(300):
        data = bytearray(seed)
        for _ in range(rng.randrange(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randrange(len(data))
        with contextlib.suppress(PermanentError):
            parse_mail(bytes(data[:cut]))


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n\r\n", b"Subject: only a subject\r\n\r\n", text_mail("   \n\n  ")],
)
def test_empty_mail(raw: bytes) -> None:
    with pytest.raises(EmptyMail):
        parse_mail(raw)


def test_too_large_raised_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("parser must not run")

    monkeypatch.setattr("appliance.preprocess.mime.BytesParser", explode)
    with pytest.raises(MailTooLarge, match="limit is 100"):
        parse_mail(text_mail("x" * 200), max_bytes=100)


def test_too_many_parts() -> None:
    msg = EmailMessage()
    msg["From"] = "s@supplier.example"
    msg.set_content("body")
    for i in range(12):
        msg.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"{i}")
    assert len(parse_mail(msg.as_bytes()).attachments) == 12
    with pytest.raises(MailTooLarge, match="more than 10 MIME parts"):
        parse_mail(msg.as_bytes(), max_parts=10)


def test_too_deep_nesting() -> None:
    depth = 60
    head = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(depth)
    )
    tail = b"".join(f"\r\n--b{i}--".encode() for i in reversed(range(depth)))
    raw = b"From: a@b.example\r\n" + head + b"Content-Type: text/plain\r\n\r\nhi" + tail
    with pytest.raises(MalformedMail, match="nested deeper"):
        parse_mail(raw, max_parts=1000)


def test_text_truncated() -> None:
    parsed = parse_mail(text_mail("word " * 5000), max_text_chars=1000)
    assert len(parsed.text) == 1000
    assert "text truncated to 1000 characters" in parsed.warnings
    assert len(parsed.body_text) > 20000


# -- html and language units --------------------------------------------------------------


def test_html_to_text_structure() -> None:
    html = (
        "<h1>Offer</h1><ol><li>one<li>two</ol><pre>  a   b</pre>"
        "<table><tr><td><table><tr><td>A</td><td>B</td></tr></table></td></tr></table>"
        "<table><tr><td>x<td>y<tr><td>z</table>tail &amp; more<!-- comment -->"
    )
    assert (
        html_to_text(html) == "Offer\n\n- one\n- two\n\n  a   b\n\nA | B\n\nx | y\nz\n\ntail & more"
    )
    assert html_to_text("") == ""
    assert html_to_text("<p>unclosed <b>bold <table><tr><td>c1<td>c2") == "unclosed bold\n\nc1 | c2"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("", "und"),
        ("123 456 !!!", "und"),
        (RU, "ru"),
        ("Nails 50mm гвозди оцинкованные по цене 120 руб.", "ru"),
        ("Hello, please find our price for nails.", "en"),
        ("Sehr geehrte Damen und Herren, bitte finden Sie den Preis für die Nägel.", "de"),
        ("Bonjour, voici le prix pour les clous avec livraison.", "fr"),
        ("Hola, le enviamos el precio de los clavos para su empresa.", "es"),
        ("SKU A-100 50mm", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_undeclared_quoted_printable_is_decoded_only_where_unmistakable() -> None:
    row = "846641-BLK-7B       ww 742  (multiple widths)          1         $80.00         $80.00"
    encoded = quopri.encodestring(
        (
            (
                "SKU              Name                     Quantity     Price     Subtotal \n"
                + row
                + "\n"
            )
            * 2
        ).encode()
    )
    assert b"=\n" in encoded and b"=20" in encoded  # soft breaks and an escape, declared 7bit
    parsed = parse_mail(mail(encoded, cte="7bit"))
    assert row in parsed.text and "=20" not in parsed.text
    assert "undeclared quoted-printable decoded" in parsed.warnings
    plain = b"4 bottles @ $55.00 = $ 220.00\nA=B and x=20 stay as written=\n"
    assert "x=20 stay as written=" in parse_mail(mail(plain, cte="7bit")).text
