"""The dashboard's mail rendering: the HTML sanitizer, the HTML part reader and the span
highlighter."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from appliance.web.sanitize import Mark, frame_document, highlight, html_part, sanitize_html
from tests.integration.xss_payloads import HTML_PAYLOADS, MARKER

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


def test_formatting_survives() -> None:
    html = (
        '<p align="center">Hello <b>bold</b> <i>it</i></p><table border="1"><tr>'
        '<td colspan="2">cell</td></tr></table><ul><li>one</li></ul>'
    )
    out = sanitize_html(html)
    for kept in ('<p align="center">', "<b>bold</b>", "<i>it</i>", 'colspan="2"', "<li>one</li>"):
        assert kept in out


@pytest.mark.parametrize("payload", HTML_PAYLOADS)
def test_every_payload_is_defused(payload: str) -> None:
    out = sanitize_html(payload).lower()
    banned = ("<script", "<style", "<svg", "<iframe", "<object", "<embed", "<form", "<base",
              "<meta", "<link", "<math", "javascript:", "http://127.0.0.1", "@import")  # fmt: skip
    for bad in banned:
        assert bad not in out, (payload, out)
    assert not re.search(r"\son[a-z]+\s*=", out), out
    assert "style=" not in out


def test_scripts_and_styles_lose_their_content() -> None:
    out = sanitize_html(f"<script>window.{MARKER}=1</script><style>p{{}}</style><p>ok</p>")
    assert out == "<p>ok</p>"


def test_images_only_inline_raster_data() -> None:
    out = sanitize_html(
        f'<img src="{PNG}" alt="logo"><img src="http://127.0.0.1:9/x.png"><img src="cid:a@b">'
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">'
    )
    assert out.count("<img") == 4
    assert out.count("src=") == 1 and f'src="{PNG}"' in out


def test_links_keep_web_and_mail_targets_only() -> None:
    out = sanitize_html(
        '<a href="https://ok.example/p">web</a><a href="mailto:a@b.example">mail</a>'
        '<a href="javascript:alert(1)">js</a><a href="data:text/html,x">data</a>'
    )
    assert 'href="https://ok.example/p"' in out and 'href="mailto:a@b.example"' in out
    assert "javascript" not in out and "data:text" not in out
    assert out.count('rel="noopener noreferrer nofollow"') == 4


def test_frame_document_wraps_and_keeps_text_literal() -> None:
    doc = frame_document(sanitize_html("<p>{{7*7}}</p>"))
    assert doc.startswith("<!doctype html>") and "<p>{{7*7}}</p>" in doc


def _mail(html: str | None, charset: str = "utf-8") -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@b.example"
    msg["Subject"] = "x"
    msg.set_content("plain text")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset=charset)
    return msg.as_bytes()


def test_html_part_is_read_and_decoded() -> None:
    assert html_part(_mail("<p>Цена 12 руб.</p>", charset="koi8-r")) == "<p>Цена 12 руб.</p>\n"
    assert html_part(_mail(None)) is None
    assert html_part(b"\x00\xff garbage") is None


def _marks(*spans: tuple[int, int, str]) -> list[Mark]:
    return [Mark(s, e, label, f"k{i}") for i, (s, e, label) in enumerate(spans)]


def test_highlight_escapes_text_between_marks() -> None:
    out = highlight("<b>&</b> 12 EUR <script>", _marks((9, 11, "price")))
    assert str(out) == (
        '&lt;b&gt;&amp;&lt;/b&gt; <mark title="price" data-keys="k0">12</mark> EUR &lt;script&gt;'
    )


def test_highlight_overlapping_spans_are_cut_at_each_boundary() -> None:
    out = str(highlight("0123456789", _marks((2, 6, "a"), (4, 8, "b"))))
    assert out == (
        '01<mark title="a" data-keys="k0">23</mark>'
        '<mark title="a, b" data-keys="k0 k1">45</mark>'
        '<mark title="b" data-keys="k1">67</mark>89'
    )


def test_highlight_spans_at_the_ends_and_out_of_range() -> None:
    out = str(
        highlight("abcdef", _marks((0, 2, "x"), (4, 60, "y"), (3, 3, "empty"), (5, 2, "inv")))
    )
    assert (
        out == '<mark title="x" data-keys="k0">ab</mark>cd<mark title="y" data-keys="k1">ef</mark>'
    )
    assert str(highlight("", _marks((0, 1, "x")))) == ""


def test_highlight_escapes_labels() -> None:
    out = str(highlight("ab", [Mark(0, 1, '"><script>', "k")]))
    assert "<script>" not in out and "&#34;&gt;&lt;script&gt;" in out
