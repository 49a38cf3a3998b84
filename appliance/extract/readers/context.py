"""Shared helpers of the readers: the words around a match, spans already taken, and the spans
that are never values (phone numbers, e-mail addresses, URLs)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable


def trie(words: Iterable[str]) -> str:
    """A regex alternation of ``words`` shaped as a prefix tree, so that the engine rejects a
    position after one character instead of trying every word (``day|days|week`` →
    ``(?:day(?:s)?|week)``). Longer words win, as in a longest-first alternation."""
    tree: dict[str, dict] = {}
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(tree)


def first_chars(words: Iterable[str]) -> str:
    """A character class body of the first letters of ``words`` in both cases, for a
    ``(?=[...])`` guard at the head of a pattern (the cheapest test the engine can fail on)."""
    chars = {w[0] for w in words} | {w[0].upper() for w in words} | {w[0].lower() for w in words}
    return "".join(re.escape(c) for c in sorted(chars))


def guard(prefixes: Iterable[str], extra: str = "") -> str:
    """A look-ahead that lets a position pass only if it starts with one of ``prefixes`` (any
    case; two characters each are plenty) or a character of the class body ``extra``. Put at
    the head of a pattern it fails most positions on one character test, before any
    look-behind or long alternation runs (Python's ``re`` tries a pattern at every position)."""
    low = {p.lower() for p in prefixes}
    alternatives = [f"(?i:{trie(low)})"] + ([f"[{extra}]"] if extra else [])
    return f"(?=[{first_chars(low)}{extra}])(?={'|'.join(alternatives)})"


def line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def before(text: str, pos: int, limit: int = 60, floor: int = 0) -> str:
    """The text on the same line before ``pos``: at most ``limit`` characters, not before
    ``floor``."""
    return text[max(line_start(text, pos), pos - limit, floor) : pos]


def after(text: str, pos: int, limit: int = 40) -> str:
    """The text on the same line after ``pos``: at most ``limit`` characters."""
    return text[pos : min(line_end(text, pos), pos + limit)]


def last_role(pattern: re.Pattern[str], context: str) -> str | None:
    """The name of the last named group of ``pattern`` that matches in ``context`` (groups whose
    name starts with ``_`` are neutral words that only consume text), or None."""
    role = None
    for m in pattern.finditer(context):
        if m.lastgroup and not m.lastgroup.startswith("_"):
            role = m.lastgroup
    return role


def last_group(pattern: re.Pattern[str], context: str) -> str | None:
    """The name of the named group of ``pattern`` whose match stands last in ``context``."""
    group = None
    for m in pattern.finditer(context):
        group = m.lastgroup
    return group


class Taken:
    """Spans already read as something; a later reader skips what overlaps them."""

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self._spans = sorted(spans)
        self._starts = [s for s, _ in self._spans]
        self._max_len = max((e - s for s, e in self._spans), default=0)

    def add(self, spans: Iterable[tuple[int, int]]) -> Taken:
        return Taken([*self._spans, *spans])

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self._starts, start - self._max_len)
        while i < len(self._spans) and self._spans[i][0] < end:
            s, e = self._spans[i]
            if s < end and start < e:
                return True
            i += 1
        return False


# E-mail addresses and bare domains are found from their rare anchor ("@", ".com") and grown
# to the left: cheaper than trying an address at every position.
_ADDRESS_LEFT_RE = re.compile(r"[\w.+-]+$")
_EMAIL_RIGHT_RE = re.compile(r"@[\w-]+(?:\.[\w-]+)+")
_TLD_RE = re.compile(r"\.(?:com|net|org|ru|de|uk|se|eu|io|info|biz|рф)\b(?:/\S*)?")
_URL_RE = re.compile(r"(?=[hHwW])(?:https?://|www\.)\S+")
# +7 (495) 123-45-67, (503) 288-6546, 503-288-6546, and digits after a phone label.
_PHONE_RE = re.compile(
    r"\+\d(?:(?:[ ()-]{1,2}|\.)?\d){6,}"
    r"|\(\d{2,5}\) ?\d(?:[ .-]?\d){4,}"
    r"|(?=\d)(?<!\w)\d{3}[-.]\d{3}[-.]\d{4}\b"
    r"|"
    + guard(("tel", "pho", "fax", "mob", "cel", "тел", "фак", "моб"))
    + r"(?i:\b(?:tel|phone|telephone|fax|mobile|cell|тел|телефон|факс|моб)\b[^\d\n]{0,60})"
    r"\d(?:(?:[ ()-]{1,2}|\.)?\d){5,}"
)


def _grow_left(text: str, pos: int) -> int:
    m = _ADDRESS_LEFT_RE.search(text, max(0, pos - 80), pos)
    return m.start() if m else pos


def not_values(text: str) -> list[tuple[int, int]]:
    """Spans of e-mail addresses, URLs and phone numbers: never money, quantities or codes."""
    out: list[tuple[int, int]] = []
    at = text.find("@")
    while at >= 0:
        m = _EMAIL_RIGHT_RE.match(text, at)
        start = _grow_left(text, at)
        if m and start < at:
            out.append((start, m.end()))
        at = text.find("@", at + 1)
    for m in _TLD_RE.finditer(text):
        start = _grow_left(text, m.start())
        if start < m.start():
            out.append((start, m.end()))
    out.extend(m.span() for m in _URL_RE.finditer(text))
    for m in _PHONE_RE.finditer(text):
        s, e = m.span()
        # keep only the digits of a labelled phone number ("tel: 5032886546")
        digits = re.search(r"[\d+(]", m.group())
        out.append((s + (digits.start() if digits and m.group()[0].isalpha() else 0), e))
    return out
