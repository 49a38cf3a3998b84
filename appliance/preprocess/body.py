"""The MIME walk: which parts are body text, which are attachments.

- ``text/plain`` and ``text/html`` parts that are not attachments (no ``attachment``
  disposition, no filename) are body text; in ``multipart/alternative`` the plain part wins
  unless it is empty or a stub (under a fifth of the HTML text's length, HTML over 200 chars).
- ``multipart/related``: its first (or ``start``) part is the body, the rest (inline images)
  are attachments marked ``inline``.
- ``message/rfc822`` parts (a mail forwarded as attachment) are listed as attachments *and*
  their text is added to the body after a "---------- Forwarded message ---------" block, since
  a forwarded supplier offer is the content.
- Signature parts (``application/pkcs7-signature``, ``application/pgp-signature``) are skipped.
- Everything else is an attachment: filename decoded (RFC 2231 and RFC 2047, control characters
  and directories removed), content type, size of the decoded payload in bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

from appliance.preprocess.charsets import decode_bytes
from appliance.preprocess.headers import decode_header_value, raw_header
from appliance.preprocess.html import MAX_DEPTH as MAX_HTML_DEPTH
from appliance.preprocess.html import html_to_text
from appliance.preprocess.qp_residue import undo_residue

_SIGNATURES = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
}
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BOUNDARY_LINE = re.compile(rb"^--([0-9A-Za-z'()+_,./:=?-]{1,70}?)(?:--)?[ \t]*\r?$", re.M)
# Defaults of preprocess.max_html_chars (the pure-Python HTML parser needs about 0.3-1 s per
# million characters) and preprocess.max_html_depth (see preprocess.html).
MAX_HTML_CHARS = 2_000_000
_FORWARD_MARK = "---------- Forwarded message ---------"


@dataclass(frozen=True)
class Attachment:
    """A non-body MIME part: decoded filename, content type, decoded size in bytes."""

    filename: str | None
    content_type: str
    size: int
    inline: bool = False  # Content-Disposition inline or part of multipart/related


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: a line ending in a space continues on the next line."""
    out: list[str] = []
    pending: tuple[int, str] | None = None  # (quote depth, text so far) of a flowed line

    def render(depth: int, content: str) -> str:
        return ">" * depth + (" " if depth else "") + content

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # space-stuffing
            content = content[1:]
        if pending is not None and pending[0] == depth:
            content = pending[1] + content
        elif pending is not None:
            out.append(render(*pending))
        pending = None
        if content.endswith(" ") and content.rstrip() != "--":  # "-- " is the signature line
            pending = (depth, content[:-1] if delsp else content)
        else:
            out.append(render(depth, content))
    if pending is not None:
        out.append(render(*pending))
    return "\n".join(out)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).replace("\ufeff", "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


class BodyWalker:
    """Walks one parsed message; collects body text, attachments and warnings."""

    def __init__(
        self,
        max_parts: int = 200,
        root: BodyWalker | None = None,
        *,
        max_html_chars: int = MAX_HTML_CHARS,
        max_html_depth: int = MAX_HTML_DEPTH,
    ) -> None:
        self.attachments: list[Attachment] = []
        self.warnings: list[str] = []
        self.max_parts = max_parts
        self.max_html_chars = max_html_chars
        self.max_html_depth = max_html_depth
        self._root = root or self  # shares the one repair of a broken boundary per mail
        self._repaired = False

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def body_text(self, msg: Message) -> str:
        """The readable body of ``msg``: text parts joined by blank lines."""
        return "\n\n".join(t for _, t in self._walk(msg) if t.strip()).strip("\n")

    # -- parts -----------------------------------------------------------------------------
    def _walk(self, part: Message, inline: bool = False) -> list[tuple[str, str]]:
        """(kind, text) chunks of ``part``; kind is "plain" or "html"."""
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            return self._forwarded(part)
        if ctype.startswith("message/"):  # delivery-status, disposition-notification, ...
            self.attachments.append(Attachment(None, ctype, _size(part), _is_inline(part)))
            return []
        if part.is_multipart():
            subparts = [p for p in part.get_payload() if isinstance(p, Message)]
            if ctype == "multipart/alternative":
                return self._alternative(subparts)
            if ctype == "multipart/related" and subparts:
                return self._related(part, subparts)
            if ctype == "multipart/encrypted":
                self._warn("encrypted mail: body not readable")
            chunks: list[tuple[str, str]] = []
            for sub in subparts:
                chunks.extend(self._walk(sub, inline))
            return chunks
        return self._leaf(part, inline)

    def _alternative(self, subparts: list[Message]) -> list[tuple[str, str]]:
        # Each alternative is walked on its own: only the chosen one's warnings count, while
        # attachments (e.g. images of the HTML version) are listed from all of them.
        walkers = [
            BodyWalker(self.max_parts, self._root, max_html_chars=self.max_html_chars,
                       max_html_depth=self.max_html_depth)
            for _ in subparts
        ]  # fmt: skip
        rendered = [w._walk(sub) for w, sub in zip(walkers, subparts, strict=True)]
        for w in walkers:
            self.attachments.extend(w.attachments)
        choice = _choose(rendered)
        if choice is None:
            return []
        if choice[1]:
            self._warn("plain alternative is a stub; html used")
        for message in walkers[choice[0]].warnings:
            self._warn(message)
        return rendered[choice[0]]

    def _related(self, part: Message, subparts: list[Message]) -> list[tuple[str, str]]:
        start = part.get_param("start")
        main = subparts[0]
        if isinstance(start, str):
            for sub in subparts:
                if (sub.get("Content-ID") or "").strip() == start.strip():
                    main = sub
        chunks = self._walk(main)
        for sub in subparts:
            if sub is not main:
                self._walk(sub, inline=True)
        return chunks

    def _forwarded(self, part: Message) -> list[tuple[str, str]]:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        self.attachments.append(
            Attachment(_filename(part), part.get_content_type(), _size(part), _is_inline(part))
        )
        if not isinstance(inner, Message):
            return []
        lines = [_FORWARD_MARK]
        for name in ("From", "Date", "Subject", "To"):
            value = raw_header(inner, name)
            if value is not None:
                lines.append(f"{name}: {decode_header_value(value)}")
        text = "\n\n".join(t for _, t in self._walk(inner) if t.strip())
        self._warn("attached message included as forwarded text")
        return [("plain", "\n".join(lines) + "\n\n" + text)]

    def _leaf(self, part: Message, inline: bool) -> list[tuple[str, str]]:
        ctype = part.get_content_type()
        if ctype in _SIGNATURES:
            return []
        filename = _filename(part)
        disposition = part.get_content_disposition()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if ctype.startswith("multipart/"):  # the parser found no boundary line
            repaired = self._repair_multipart(data)
            if repaired is not None:
                return self._walk(repaired, inline)
            self._warn("broken multipart structure; raw payload read as plain text")
            return [self._decode_text(part, "text/plain", data)]
        is_text = ctype in ("text/plain", "text/html")
        if is_text and disposition != "attachment" and filename is None and not inline:
            return [self._decode_text(part, ctype, data)]
        self.attachments.append(
            Attachment(filename, ctype, len(data), inline or disposition == "inline")
        )
        return []

    def _repair_multipart(self, data: bytes) -> Message | None:
        """Re-parse a multipart whose declared boundary never occurs, with the one it uses."""
        if self._root._repaired:
            return None
        self._root._repaired = True
        m = _BOUNDARY_LINE.search(data)
        if m is None:
            return None
        boundary = m.group(1)
        header = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
        try:
            msg = BytesParser(policy=policy.compat32).parsebytes(header + data)
        except Exception:  # still unparseable: the caller falls back to plain text
            return None
        if not msg.is_multipart() or sum(1 for _ in msg.walk()) > self.max_parts:
            return None
        self._warn(f"multipart boundary repaired: {boundary.decode('ascii', 'replace')}")
        return msg

    def _decode_text(self, part: Message, ctype: str, data: bytes) -> tuple[str, str]:
        try:
            charset = part.get_content_charset()
        except Exception:  # undecodable RFC 2231 charset parameter
            charset = None
        if ctype == "text/html" and charset is None:
            m = _META_CHARSET.search(data[:4096])
            charset = m.group(1).decode("ascii", "replace") if m else None
        text, warnings = decode_bytes(data, charset)
        for w in warnings:
            self._warn(w)
        if part.get("content-transfer-encoding", "").strip().lower() != "quoted-printable":
            decoded = undo_residue(text)
            if decoded != text:
                text = decoded
                self._warn("undeclared quoted-printable decoded")
        if ctype == "text/html":
            self._warn("html converted")
            if len(text) > self.max_html_chars:
                text = text[: self.max_html_chars]
                self._warn(f"html over {self.max_html_chars} characters; only its start converted")
            return "html", html_to_text(text, max_depth=self.max_html_depth)
        if str(part.get_param("format") or "").lower() == "flowed":
            delsp = str(part.get_param("delsp") or "").lower() == "yes"
            text = _unflow(text.replace("\r\n", "\n"), delsp)
        return "plain", _clean(text)


def _choose(rendered: list[list[tuple[str, str]]]) -> tuple[int, bool] | None:
    """(index of the alternative to use, whether a plain stub was passed over), or None."""
    lengths = [_length(r) for r in rendered]
    nonempty = [i for i, n in enumerate(lengths) if n > 0]
    if not nonempty:
        return None
    plain = next((i for i in nonempty if all(k == "plain" for k, _ in rendered[i])), None)
    last = nonempty[-1]
    if plain is None:
        return last, False
    if last != plain and lengths[last] > 200 and lengths[plain] < 0.2 * lengths[last]:
        return last, True
    return plain, False


def _length(chunks: list[tuple[str, str]]) -> int:
    return sum(len(t.strip()) for _, t in chunks)


def _size(part: Message) -> int:
    """Bytes of a part's decoded payload (of the serialized messages for message/*)."""
    try:
        payload = part.get_payload()
        if isinstance(payload, list):
            return sum(len(p.as_bytes()) for p in payload if isinstance(p, Message))
        data = part.get_payload(decode=True)
        return len(data) if isinstance(data, bytes) else 0
    except Exception:  # a broken part still counts as an attachment
        return 0


def _is_inline(part: Message) -> bool:
    return part.get_content_disposition() == "inline"


def _filename(part: Message) -> str | None:
    """Decoded attachment filename (RFC 2231 via the parser, then RFC 2047), or None."""
    try:
        raw = part.get_filename()
    except Exception:  # malformed parameters
        return None
    if not raw:
        return None
    name = decode_header_value(str(raw))
    name = re.split(r"[\\/]", name)[-1].strip()
    return name or None
