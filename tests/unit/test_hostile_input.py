"""Hostile input for the HTML-to-text converter and the quote stripper finishes without an
exception (the inputs of ``tests/bench/hostile_html.py``, smaller; no timing assertion), and
the bounds behave: deep nesting keeps its text, a ``<`` that opens no tag is text, an HTML part
over ``preprocess.max_html_chars`` is converted only up to there."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from appliance.extract.extractor import preprocess
from appliance.preprocess import parse_mail
from appliance.preprocess.html import html_to_text
from appliance.preprocess.quotes import strip_quotes
from appliance.settings import Settings
from tests.bench.hostile_html import html_cases, mail_cases, text_cases

SCALE = 0.2  # 20k nesting levels, 200 kB lines, a 1 MB HTML mail


@pytest.mark.parametrize(("name", "html"), list(html_cases(SCALE).items()))
def test_html_to_text_finishes(name: str, html: str) -> None:
    assert isinstance(html_to_text(html), str)


@pytest.mark.parametrize(("name", "text"), list(text_cases(SCALE).items()))
def test_strip_quotes_finishes(name: str, text: str) -> None:
    assert isinstance(strip_quotes(text), str)


@pytest.mark.parametrize(("name", "raw"), list(mail_cases(SCALE).items()))
def test_parse_mail_finishes(name: str, raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert len(parsed.text) <= 20000


def test_deep_nesting_keeps_the_text() -> None:
    deep = "<blockquote>" * 50 + "the offer" + "</blockquote>" * 50 + "<p>after</p>"
    text = html_to_text(deep, max_depth=4)
    assert text.splitlines()[0] == "> > > > the offer" and text.endswith("after")
    tables = "<table><tr><td>" * 30 + "cell" + "</td></tr></table>" * 30 + "<p>after</p>"
    text = html_to_text(tables, max_depth=3)
    assert "cell" in text and text.endswith("after")
    # Shallow nesting is read as before.
    assert html_to_text("<blockquote><blockquote>x</blockquote></blockquote>") == "> > x"


def test_a_lone_lt_is_text() -> None:
    assert html_to_text("<p>a < b and c <= d</p>") == "a < b and c <= d"
    assert html_to_text("</" * 1000) == "</" * 1000
    assert html_to_text("price <5 EUR<br>x") == "price <5 EUR\nx"
    assert html_to_text('<p title="a>b">t</p>') == "t"


def _html_mail(html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "anna@boxworks.example"
    msg["Subject"] = "Prices"
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


def test_max_html_chars_from_the_settings() -> None:
    html = "<p>start of the offer</p>" + "<p>filler line</p>" * 2000 + "<p>THE END</p>"
    raw = _html_mail(html)
    s = Settings(preprocess={"max_html_chars": 5000, "max_text_chars": 100_000})
    parsed = preprocess(raw, s)
    assert "start of the offer" in parsed.text and "THE END" not in parsed.text
    assert any("html over 5000 characters" in w for w in parsed.warnings)
    assert "THE END" in preprocess(raw, Settings(preprocess={"max_text_chars": 100_000})).text
    with pytest.raises(ValueError):
        Settings(preprocess={"max_html_depth": 0})
