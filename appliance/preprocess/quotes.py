"""Strip quoted replies and signatures from a mail body, keeping forwarded content.

What counts (checked line by line, top to bottom, on the part before any forward marker):

- a line starting with ">" is a quote line and is dropped;
- a reply header cuts the rest of the body: an attribution ("On ... wrote:", "... пишет:",
  "... написал(а):", "Am ... schrieb ...:", "Le ... a écrit :", "El ... escribió:", the Gmail-ru
  form "<date>, Name <addr>:"), an "-----Original Message-----" / "-----Исходное сообщение-----"
  separator, or an Outlook header block ("From:"/"От:" directly followed by at least two of
  "Sent:"/"Date:"/"To:"/"Cc:"/"Subject:", one of them "Sent:" or "Subject:", or their
  Russian/German/French/Spanish forms; "From: Hamburg / To: Moscow / Date: ..." is not one);
- a signature separator line ("-- " or "--") cuts the rest of the text up to a forward marker;
- "Sent from my iPhone"-style lines are dropped.

A forward marker ("---------- Forwarded message ---------", "Begin forwarded message:",
"-------- Пересылаемое сообщение --------", ...) starts forwarded content, which is kept verbatim
(with its own quotes and signature: a forwarded supplier offer *is* the content). When the mail
is itself a forward (``forwarded=True``, from a "Fwd:"/"FW:" subject), Outlook header blocks and
"Original Message" separators count as forward markers, since Outlook forwards with them.
Sign-offs ("Best regards", "С уважением") are never cut: the body may continue after them.
"""

from __future__ import annotations

import re

_FORWARD = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:forwarded message|пересылаемое сообщение|"
    r"перенаправленное сообщение|переадресованное сообщение|weitergeleitete nachricht|"
    r"message transf[ée]r[ée]|mensaje reenviado)\s*-*"
    r"|begin forwarded message:?|начало переадресованного сообщения:?"
    r"|d[ée]but du message r[ée]exp[ée]di[ée]\s*:?"
    r")\s*$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|исходное сообщение|ursprüngliche nachricht|"
    r"message d'origine|mensaje original|oorspronkelijk bericht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Attribution lines, tried only on lines of at most 600 characters ending with ":".
_ATTRIBUTIONS = [
    re.compile(r"^on\b.{0,300}\bwrote\s*:$", re.IGNORECASE),
    re.compile(r"^am\b.{0,300}\bschrieb\b.{0,200}:$", re.IGNORECASE),
    re.compile(r"^le\b.{0,300}\ba [ée]crit\s*:$", re.IGNORECASE),
    re.compile(r"^el\b.{0,300}\bescribi[óo]\s*:$", re.IGNORECASE),
    re.compile(r"\b(?:пишет|писал|написала?|написал\(а\))\s*:$", re.IGNORECASE),
]
_ADDR_COLON = re.compile(r"<[^<>\s]+@[^<>\s]+>\s*:$")  # Gmail ru: "<date>, Name <addr>:"
_YEAR = re.compile(r"\d{4}|\d\s*г\.")
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|от|von|de|van)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\s*\*?(sent|date|to|cc|subject|отправлено|дата|кому|копия|тема|gesendet|datum|an|"
    r"betreff|envoy[ée]|[àa]|objet|enviado|fecha|para|asunto)\s*:",
    re.IGNORECASE,
)
_HEADER_STRONG = re.compile(
    r"sent|subject|отправлено|тема|gesendet|betreff|envoy[ée]|objet|enviado|asunto",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(?:sent from my \w+.*|get outlook for \w+.*|отправлено с (?:моего )?\w+.*|"
    r"отправлено из мобильной .*)$",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|ответ)\s*:\s*)*(?:fwd?|fw|wg|tr|пересл|пр)\s*:",
                              re.IGNORECASE)  # fmt: skip
_RULE = re.compile(r"^\s*[-_=*]{3,}\s*$")


def is_forward_subject(subject: str) -> bool:
    """True if ``subject`` marks a forward ("Fwd:", "FW:", "WG:", "TR:", "Пересл:")."""
    return bool(_FORWARD_SUBJECT.match(subject))


def _is_outlook_header(lines: list[str], i: int) -> bool:
    """A "From:" line followed by at least two header lines, one of them Sent or Subject."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    seen = strong = 0
    for line in lines[i + 1 : i + 8]:
        m = _HEADER_OTHER.match(line)
        if m:
            seen += 1
            strong += bool(_HEADER_STRONG.match(m.group(1)))
        elif line.strip():
            break
    return seen >= 2 and strong >= 1


def _attribution(text: str) -> bool:
    s = text.strip()
    if not s.endswith(":") or len(s) > 600:
        return False
    if any(p.search(s) for p in _ATTRIBUTIONS):
        return True
    m = _ADDR_COLON.search(s)
    return m is not None and _YEAR.search(s, 0, m.start()) is not None


def _is_attribution(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _attribution(line):
        return True
    # Attribution wrapped over two lines: "On Mon, 5 Jan 2026, Ann <\nann@x.com> wrote:".
    if i + 1 >= len(lines) or not lines[i + 1].rstrip().endswith(":"):
        return False
    if not line.strip() or line.lstrip().startswith(">") or _attribution(lines[i + 1]):
        return False  # nothing to join, or the next line is the attribution on its own
    return _attribution(line.rstrip() + " " + lines[i + 1].strip())


def _find_forward(lines: list[str], forwarded: bool) -> int | None:
    for i, line in enumerate(lines):
        if _FORWARD.match(line):
            return i
        if forwarded and (_ORIGINAL.match(line) or _is_outlook_header(lines, i)):
            return i
    return None


def _strip_top(lines: list[str]) -> list[str]:
    """The own text of a reply: stop at a reply header or signature, drop quote lines."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if _ORIGINAL.match(line) or _is_attribution(lines, i) or _is_outlook_header(lines, i):
            break
        if _SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">") or _MOBILE.match(line):
            continue
        out.append(line)
    while out and (not out[-1].strip() or _RULE.match(out[-1])):
        out.pop()
    return out


def strip_quotes(text: str, *, forwarded: bool = False) -> str:
    """Remove quoted replies and the signature from ``text``; keep forwarded content.

    ``forwarded`` says the mail is a forward (see ``is_forward_subject``): then Outlook header
    blocks and "Original Message" separators start forwarded content instead of a quote.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fwd = _find_forward(lines, forwarded)
    top = lines if fwd is None else lines[:fwd]
    own = _strip_top(top)
    if fwd is not None:
        # A reply header above the forward marker means the forward is part of the quoted
        # history, not the content: then it goes too.
        cut_early = any(
            _ORIGINAL.match(line) or _is_attribution(top, i) or _is_outlook_header(top, i)
            for i, line in enumerate(top)
        )
        if not cut_early:
            if own:
                own.append("")
            own.extend(lines[fwd:])
    return "\n".join(own).strip("\n")
