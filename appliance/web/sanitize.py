"""Mail content made safe to show: the HTML part sanitized for a sandboxed frame, the plain
text escaped with the evidence spans marked.

Mail content is untrusted input. Its HTML is only ever shown after ``sanitize_html`` and only
inside ``<iframe sandbox srcdoc=...>`` (no scripts, an opaque origin); the page's
Content-Security-Policy, which the srcdoc frame inherits, blocks every remote load besides.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

import nh3
from markupsafe import Markup, escape

from appliance.preprocess.charsets import decode_bytes

# Harmless formatting only: no forms, frames, objects, media, SVG/MathML, styles, scripts.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
        "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span",
        "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "tt", "u", "ul",
    }
)  # fmt: skip
_LAYOUT = {"align", "valign", "width", "height"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", *_LAYOUT},
    "table": {"border", "cellpadding", "cellspacing", *_LAYOUT},
    "td": {"colspan", "rowspan", *_LAYOUT},
    "th": {"colspan", "rowspan", *_LAYOUT},
    "tr": {"align", "valign"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "p": {"align"},
    "div": {"align"},
    "font": {"color", "size"},
}
# Elements dropped with everything inside them (other unknown tags lose only the tag).
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
        "math", "noscript", "template", "title", "head", "select", "textarea", "button",
        "audio", "video", "canvas",
    }
)  # fmt: skip
# Images only from the mail itself (data:image, never SVG); links only to the web or mailto.
_IMAGE_PREFIXES = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")
_LINK_SCHEMES = ("http://", "https://", "mailto:")
# The HTML part shown, at most (characters; the rest is cut before sanitizing).
MAX_HTML_CHARS = 500_000


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    """Keep an URL attribute only when it cannot make the browser fetch anything remote."""
    v = value.strip().lower()
    if element == "img" and attribute == "src":
        return value if v.startswith(_IMAGE_PREFIXES) else None
    if attribute == "href":
        return value if v.startswith(_LINK_SCHEMES) else None
    return value


def sanitize_html(html: str) -> str:
    """The mail's HTML reduced to harmless formatting: allowed tags and attributes only, no
    event handlers, styles, scripts, frames, forms, objects, SVG or MathML; images only as
    inline ``data:image`` (never remote, never ``cid:`` which would not resolve); links only
    ``http(s)``/``mailto`` (with ``rel="noopener noreferrer nofollow"``)."""
    return nh3.clean(
        html[:MAX_HTML_CHARS],
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def frame_document(sanitized: str) -> str:
    """A complete document for ``<iframe sandbox srcdoc>`` around sanitized HTML (UTF-8,
    our own stylesheet; the frame inherits the page's Content-Security-Policy)."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<link rel="stylesheet" href="/static/mail.css"></head>'
        f"<body>{sanitized}</body></html>"
    )


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    return disposition == "attachment"


def html_part(raw: bytes) -> str | None:
    """The first ``text/html`` body part of a raw mail, decoded (None when it has none).

    ``preprocess.parse_mail`` keeps only the text it derives from the HTML, so the dashboard
    reads the part itself; never raises on a broken mail."""
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
        for part in msg.walk():
            if part.is_multipart() or _is_attachment(part):
                continue
            if part.get_content_type() != "text/html":
                continue
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            try:
                charset = part.get_content_charset()
            except Exception:  # undecodable RFC 2231 charset parameter
                charset = None
            text, _ = decode_bytes(data, charset)
            return text
    except Exception:  # a mail the parser cannot walk has no HTML view
        return None
    return None


@dataclass(frozen=True)
class Mark:
    """One evidence span to highlight: ``label`` names the field (shown as the title), ``key``
    links it to its row in the field table."""

    start: int
    end: int
    label: str
    key: str


def highlight(text: str, marks: Sequence[Mark]) -> Markup:
    """``text`` HTML-escaped with every span wrapped in ``<mark>``.

    Overlapping spans are cut at every boundary: each piece covered by one span or more is one
    ``<mark>`` whose ``title`` lists the fields and ``data-keys`` their keys. Spans are clamped
    to the text; empty or inverted ones are ignored."""
    n = len(text)
    spans = []
    for m in marks:
        start, end = max(0, min(m.start, n)), max(0, min(m.end, n))
        if start < end:
            spans.append((start, end, m))
    cuts = sorted({0, n, *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[str] = []
    for a, b in itertools.pairwise(cuts):
        piece = str(escape(text[a:b]))
        covering = [m for s, e, m in spans if s <= a and b <= e]
        if not covering:
            out.append(piece)
            continue
        labels = ", ".join(dict.fromkeys(m.label for m in covering))
        keys = " ".join(dict.fromkeys(m.key for m in covering))
        out.append(f'<mark title="{escape(labels)}" data-keys="{escape(keys)}">{piece}</mark>')
    return Markup("".join(out))
