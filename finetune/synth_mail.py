"""Bodies and bytes of synthetic mails: blocks rendered as text/plain or text/html, and a
deterministic RFC 5322 / MIME assembly (no random boundaries, no clock).

The stdlib generator draws MIME boundaries from the global random generator; this module writes
the bytes itself so that the same seed gives byte-identical mails.
"""

from __future__ import annotations

import base64
import html
import quopri
import random
import re
import textwrap
from email.header import Header
from email.utils import formataddr

from finetune.synth_render import Block


def header(name: str, value: str, charset: str) -> str:
    """One header line (folded), RFC 2047-encoded in ``charset`` when not ASCII."""
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\n")


def address(display: str, addr: str, charset: str) -> str:
    """``Display Name <addr>`` with the name encoded where needed."""
    if not display:
        return addr
    if display.isascii():
        return formataddr((display, addr))
    encoded = Header(display, charset).encode(linesep="\n")
    return f"{encoded} <{addr}>"


def _encode_body(text: str, charset: str, cte: str) -> tuple[bytes, str]:
    data = text.encode(charset)
    if cte == "base64":
        return base64.encodebytes(data), "base64"
    if cte == "quoted-printable":
        return quopri.encodestring(data), "quoted-printable"
    return data, ("7bit" if data.isascii() else "8bit")


def text_part(text: str, subtype: str, charset: str, cte: str) -> tuple[list[str], bytes]:
    """Headers and encoded body of one text/plain or text/html part."""
    body, cte = _encode_body(text, charset, cte)
    if not body.endswith(b"\n"):
        body += b"\n"
    headers = [
        f'Content-Type: text/{subtype}; charset="{charset}"',
        f"Content-Transfer-Encoding: {cte}",
    ]
    return headers, body


def boundary(rng: random.Random) -> str:
    """A boundary in the style of a common mailer."""
    style = rng.randrange(3)
    if style == 0:
        stamp = 1700000000000 + rng.randrange(10**11)
        return f"----=_Part_{rng.randrange(10**5)}_{rng.randrange(10**9)}.{stamp}"
    if style == 1:
        return f"000000000000{rng.getrandbits(48):012x}"
    return (
        f"=_NextPart_{rng.randrange(4096):03X}_{rng.randrange(65536):04X}_{rng.getrandbits(32):08X}"
    )


def assemble(
    top: list[str],
    parts: list[tuple[list[str], bytes]],
    rng: random.Random,
    *,
    crlf: bool = False,
) -> bytes:
    """A complete mail: ``top`` headers, then one part or a multipart/alternative of them."""
    lines = [*top, "MIME-Version: 1.0"]
    if len(parts) == 1:
        head, body = parts[0]
        raw = "\n".join([*lines, *head]).encode("ascii") + b"\n\n" + body
    else:
        b = boundary(rng)
        lines.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        chunks = ["\n".join(lines).encode("ascii") + b"\n\n"]
        chunks.append(b"This is a multi-part message in MIME format.\n\n")
        for head, body in parts:
            chunks.append(f"--{b}\n".encode("ascii") + "\n".join(head).encode("ascii"))
            chunks.append(b"\n\n" + body + b"\n")
        chunks.append(f"--{b}--\n".encode("ascii"))
        raw = b"".join(chunks)
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def _plain_table(header: list[str], rows: list[list[str]], rng: random.Random) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    edge = rng.random() < 0.3

    def line(cells: list[str]) -> str:
        s = " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        return f"| {s} |" if edge else s

    rule = "-+-".join("-" * w for w in widths)
    return [line(header), f"|-{rule}-|" if edge else rule, *(line(r) for r in rows)]


_DOUBLE_DOT = re.compile(r"(?<!\.)\.\.(?!\.)")


def _dots(s: str) -> str:
    """ "шт.." / "2026 г.." (an abbreviation ending a sentence) → one dot."""
    return _DOUBLE_DOT.sub(".", s)


def to_plain(
    blocks: list[Block], rng: random.Random, *, wrap: bool = False, bullet: str = "-"
) -> str:
    """Render blocks as a plain-text body (``bullet``: the list marker, "n" to number)."""
    marker = {"n": "{n}) ", "n.": "{n}. "}.get(bullet, bullet + " ")
    out: list[str] = []
    for kind, data in blocks:
        if kind == "p":
            data = [_dots(x) for x in data]
            lines = [textwrap.fill(x, 76, break_on_hyphens=False) if wrap else x for x in data]
            out.append("\n".join(lines))
        elif kind == "ul":
            data = [_dots(x) for x in data]
            if bullet.startswith("n"):  # "… €13.52" then "2. …" would read as one number
                data = [
                    x + ";" if x[-1:].isdigit() and i < len(data) - 1 else x
                    for i, x in enumerate(data)
                ]
            out.append("\n".join(marker.format(n=i + 1) + x for i, x in enumerate(data)))
        elif kind == "kv":
            out.append("\n".join(f"{k}: {v}" for k, v in data))
        elif kind == "table":
            header_row, rows = data
            out.append("\n".join(_plain_table(header_row, rows, rng)))
        elif kind == "sig":
            out.append("-- \n" + "\n".join(data))
        elif kind == "quote":
            out.append("\n".join(("> " + x).rstrip() for x in data))
        elif kind == "raw":
            out.append(data)
    return "\n\n".join(out) + "\n"


def _h(s: str) -> str:
    return html.escape(s, quote=False).replace("\u00a0", "&nbsp;").replace("\n", "<br>\n")


def to_html(blocks: list[Block], rng: random.Random, charset: str) -> str:
    """Render blocks as an HTML document (tables as <table>, quotes as <blockquote>)."""
    font = rng.choice(("Arial, sans-serif", "Calibri, sans-serif", "Verdana", "Tahoma"))
    out = [
        f'<html><head><meta charset="{charset}"><style>td{{padding:4px}}</style></head>'
        f'<body style="font-family:{font};font-size:10pt">'
    ]
    for kind, data in blocks:
        if kind == "p":
            out.append("<p>" + "<br>\n".join(_h(_dots(x)) for x in data) + "</p>")
        elif kind == "ul":
            out.append("<ul>\n" + "\n".join(f"<li>{_h(_dots(x))}</li>" for x in data) + "\n</ul>")
        elif kind == "kv":
            out.append("<p>" + "<br>\n".join(f"<b>{_h(k)}:</b> {_h(v)}" for k, v in data) + "</p>")
        elif kind == "table":
            header, rows = data
            border = rng.choice(('border="1" cellspacing="0"', 'style="border-collapse:collapse"'))
            lines = [
                f"<table {border}>",
                "<tr>" + "".join(f"<th>{_h(c)}</th>" for c in header) + "</tr>",
            ]
            lines += ["<tr>" + "".join(f"<td>{_h(c)}</td>" for c in r) + "</tr>" for r in rows]
            out.append("\n".join([*lines, "</table>"]))
        elif kind == "sig":
            out.append("<p>-- <br>\n" + "<br>\n".join(_h(x) for x in data) + "</p>")
        elif kind == "quote":
            out.append(
                '<blockquote style="border-left:2px solid #ccc;padding-left:8px">'
                + "<br>\n".join(_h(x) for x in data)
                + "</blockquote>"
            )
        elif kind == "raw":
            out.append("<div>" + _h(data) + "</div>")
    return "\n".join([*out, "</body></html>"]) + "\n"
