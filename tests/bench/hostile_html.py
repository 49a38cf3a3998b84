"""Hostile input against the HTML-to-text converter and the quote stripper (issue 15).

Usage::

    python tests/bench/hostile_html.py [--scale 1.0] [--only NAME]

Prints one line per case: the input size, seconds, the output size. Cases: a multi-megabyte
ordinary HTML mail, 100k nested ``<div>``, ``<blockquote>`` and ``<table>`` (closed and left
open), a million ``</``, ``<`` and ``<!`` with no ``>``, a 1 MB line without spaces, a 1 MB line
of ``>``, many ``>``-quoted lines, long "wrote:" lines; and whole mails through ``parse_mail``
with the default limits (``preprocess.max_html_chars``, ``max_html_depth``). No assertion on
time: the figures are for the README; ``tests/unit/test_hostile_input.py`` checks that the
same inputs finish without an exception.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from appliance.preprocess import parse_mail  # noqa: E402
from appliance.preprocess.html import html_to_text  # noqa: E402
from appliance.preprocess.quotes import strip_quotes  # noqa: E402

MB = 1_000_000


def ordinary_html(size: int) -> str:
    """A price-list mail of about ``size`` characters: paragraphs and a long table."""
    row = (
        "<tr><td>Corrugated box 40x30x20 cm</td><td>BX-4030</td><td>500 pcs</td>"
        "<td>0.85 EUR</td></tr>"
    )
    head = "<html><body><p>Hello,</p><p>our prices:</p><table>"
    rows = row * max(1, (size - len(head)) // len(row))
    return head + rows + "</table><p>Best regards,<br>Anna</p></body></html>"


def html_cases(scale: float) -> dict[str, str]:
    """Name → HTML input (sizes times ``scale``)."""
    n = int(100_000 * scale)
    big = int(5 * MB * scale)
    return {
        "ordinary html 5 MB": ordinary_html(big),
        "nested div 100k": "<div>" * n + "x" + "</div>" * n,
        "nested div 100k unclosed": "<div>a" * n,
        "nested blockquote 100k": "<blockquote>" * n + "x" + "</blockquote>" * n,
        "nested blockquote 100k unclosed": "<blockquote>a" * n,
        "nested table 100k": "<table><tr><td>" * n + "x" + "</td></tr></table>" * n,
        "nested table 100k unclosed": "<table><tr><td>a" * n,
        "'</' x 1M, no '>'": "</" * (10 * n),
        "'<' x 1M": "<" * (10 * n),
        "'<!' x 1M": "<!" * (10 * n),
        "'<a' x 500k": "<a" * (5 * n),
        "1 MB line, no spaces": "<p>" + "x" * (10 * n) + "</p>",
        "unclosed comment 1 MB": "<!--" + "x" * (10 * n),
        "attribute 1 MB": '<p title="' + "x" * (10 * n) + '">t</p>',
    }


def text_cases(scale: float) -> dict[str, str]:
    """Name → plain text input for the quote stripper."""
    n = int(100_000 * scale)
    return {
        "1 MB line, no spaces": "x" * (10 * n),
        "1 MB line of '>'": ">" * (10 * n),
        "200k lines '>'": ">\n" * (2 * n),
        "20k lines of 50 '>'": (">" * 50 + " quoted\n") * (n // 5),
        "10k lines ending ':'": ("On " + "a" * 500 + " wrote:\n") * (n // 10),
        "10k wrapped attributions": ("x" * 1000 + "\n" + "y" * 1000 + ":\n") * (n // 10),
        "100k 'From:' lines": "From: x\n" * n,
    }


def mail_cases(scale: float) -> dict[str, bytes]:
    """Name → a whole mail (parse_mail with its default limits)."""
    n = int(100_000 * scale)
    out = {}
    for name, html in (
        ("mail: ordinary html 5 MB", ordinary_html(int(5 * MB * scale))),
        ("mail: nested blockquote 100k unclosed", "<blockquote>a" * n),
        ("mail: '</' x 1M", "</" * (10 * n)),
    ):
        msg = EmailMessage()
        msg["From"] = "anna@boxworks.example"
        msg["Subject"] = "Prices"
        msg.set_content("see the HTML part")
        msg.add_alternative(html, subtype="html")
        out[name] = msg.as_bytes()
    return out


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="input sizes times this")
    ap.add_argument("--only", default="", help="only cases whose name contains this")
    a = ap.parse_args(argv)
    print(f"{'case':48} {'input':>11} {'seconds':>8} {'output':>11}")

    def line(kind: str, name: str, size: int, secs: float, out: int) -> None:
        print(f"{kind + ': ' + name:48} {size:>11,} {secs:>8.2f} {out:>11,}", flush=True)

    total = 0.0
    for name, html in html_cases(a.scale).items():
        if a.only in name:
            secs, text = timed(lambda h=html: html_to_text(h))  # type: ignore[misc]
            total += secs
            line("html_to_text", name, len(html), secs, len(str(text)))
    for name, text in text_cases(a.scale).items():
        if a.only in name:
            secs, out = timed(lambda t=text: strip_quotes(t))  # type: ignore[misc]
            total += secs
            line("strip_quotes", name, len(text), secs, len(str(out)))
    for name, raw in mail_cases(a.scale).items():
        if a.only in name:
            secs, parsed = timed(lambda r=raw: parse_mail(r))  # type: ignore[misc]
            total += secs
            line("parse_mail", name, len(raw), secs, len(parsed.text))  # type: ignore[attr-defined]
    print(f"total {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
