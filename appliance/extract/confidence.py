"""Per-value confidence from the model's token log-probabilities.

vLLM returns, with ``"logprobs": true``, each generated token with its log-probability (under
the JSON-schema grammar). The generated text is the offer as JSON; each leaf value of it
(``items[0].unit_price``, ``supplier.name``, ``items[0].dimensions.length``) is a literal at a
known place in that text. The confidence of a value is the geometric mean of the probabilities
of the tokens that overlap its literal::

    confidence = exp( (1/n) · Σ logprob(tᵢ) )   over the n tokens tᵢ overlapping the literal

For a string the literal is its content between the quotes (escapes as written): a token that
is only a quote (or ``",``) does not count, one that joins a quote and content (``"AC``) does,
since its probability is that of the content too. For a number the literal is its digits,
sign, point and exponent. Nulls have no confidence (nothing was stated). The geometric mean
does not depend on how many tokens a value takes, so long names and short numbers compare;
it lies in (0, 1] (floored at ``_FLOOR`` so that a value never reads as 0).

Pure functions; ``LLMClient`` applies them to each completion and the extractor carries the
result through normalisation and the evidence check (``remap_items``, ``field_level``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Lower bound of a confidence: exp() of a very negative mean underflows to 0.0.
_FLOOR = 1e-9
_WS = " \t\r\n"
_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ITEM_PATH_RE = re.compile(r"^items\[(\d+)\](.*)$")

Token = tuple[bytes, float]


class _Scanner:
    """A position-tracking reader of one JSON text: the character range of every leaf."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.leaves: dict[str, tuple[int, int]] = {}

    def _skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def _expect(self, ch: str) -> None:
        self._skip_ws()
        if self.text[self.pos : self.pos + 1] != ch:
            raise ValueError(f"expected {ch!r} at {self.pos}")
        self.pos += 1

    def _string(self) -> tuple[int, int]:
        """Read a string literal; the range of its content (without the quotes)."""
        self._expect('"')
        start = self.pos
        while True:
            if self.pos >= len(self.text):
                raise ValueError("unterminated string")
            ch = self.text[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            if ch == '"':
                end = self.pos
                self.pos += 1
                return start, end
            self.pos += 1

    def value(self, path: str) -> None:
        """Read one value at ``path``, recording leaves (null, true, false are skipped)."""
        self._skip_ws()
        ch = self.text[self.pos : self.pos + 1]
        if ch == "{":
            self.pos += 1
            self._skip_ws()
            if self.text[self.pos : self.pos + 1] == "}":
                self.pos += 1
                return
            while True:
                key_start, key_end = self._string()
                key = self.text[key_start:key_end]
                self._expect(":")
                self.value(f"{path}.{key}" if path else key)
                self._skip_ws()
                if self.text[self.pos : self.pos + 1] == ",":
                    self.pos += 1
                    continue
                self._expect("}")
                return
        if ch == "[":
            self.pos += 1
            self._skip_ws()
            if self.text[self.pos : self.pos + 1] == "]":
                self.pos += 1
                return
            i = 0
            while True:
                self.value(f"{path}[{i}]")
                i += 1
                self._skip_ws()
                if self.text[self.pos : self.pos + 1] == ",":
                    self.pos += 1
                    continue
                self._expect("]")
                return
        if ch == '"':
            self.leaves[path] = self._string()
            return
        for word in ("null", "true", "false"):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return
        m = _NUMBER_RE.match(self.text, self.pos)
        if not m:
            raise ValueError(f"unexpected {ch!r} at {self.pos}")
        self.leaves[path] = (m.start(), m.end())
        self.pos = m.end()


def value_ranges(text: str) -> dict[str, tuple[int, int]]:
    """Leaf path (``items[0].dimensions.length``) → character range of its literal in the JSON
    ``text`` (string content without quotes). Nulls and booleans are left out. Raises
    ``ValueError`` on text that is not one JSON value."""
    sc = _Scanner(text)
    sc.value("")
    sc._skip_ws()
    if sc.pos != len(text):
        raise ValueError(f"trailing text at {sc.pos}")
    return sc.leaves


def tokens_of(logprobs_content: Iterable[Mapping[str, Any]]) -> list[Token]:
    """The (bytes, logprob) of each generated token from an OpenAI-style
    ``choices[0].logprobs.content`` list; ``bytes`` when given (a token may be part of a
    multi-byte character), else the token string in UTF-8."""
    out: list[Token] = []
    for t in logprobs_content:
        raw = t.get("bytes")
        data = bytes(raw) if raw is not None else str(t.get("token", "")).encode("utf-8")
        out.append((data, float(t.get("logprob") or 0.0)))
    return out


def value_confidence(text: str, tokens: list[Token]) -> dict[str, float]:
    """Leaf path → confidence (see the module docstring) of each non-null value of the JSON
    ``text`` the ``tokens`` spell. Empty when the tokens do not spell the text (a server that
    returned no or other log-probabilities) or the text is not JSON."""
    encoded = text.encode("utf-8")
    joined = b"".join(t for t, _ in tokens)
    if not tokens or not joined.startswith(encoded):  # trailing special tokens are fine
        return {}
    try:
        ranges = value_ranges(text)
    except ValueError:
        return {}
    # Byte offset of each character (and of the end), to compare with the tokens' bytes.
    char_byte = [0] * (len(text) + 1)
    for i, ch in enumerate(text):
        char_byte[i + 1] = char_byte[i] + len(ch.encode("utf-8"))
    bounds: list[tuple[int, int, float]] = []
    at = 0
    for data, lp in tokens:
        bounds.append((at, at + len(data), lp))
        at += len(data)
    out: dict[str, float] = {}
    for path, (start, end) in ranges.items():
        bs, be = char_byte[start], char_byte[end]
        if bs == be:  # an empty string: the tokens that close it
            bs, be = bs - 1, be + 1
        lps = [lp for ts, te, lp in bounds if ts < be and te > bs]
        if lps:
            out[path] = max(math.exp(sum(lps) / len(lps)), _FLOOR)
    return out


def remap_items(confidence: Mapping[str, float], origin: Sequence[int | None]) -> dict[str, float]:
    """Re-index item paths after items were merged or dropped: ``origin[new] = old`` position
    (None: an item with no model reading). Paths of items not kept are left out; other paths
    are kept as they are."""
    back = {old: new for new, old in enumerate(origin) if old is not None}
    out: dict[str, float] = {}
    for path, c in confidence.items():
        m = _ITEM_PATH_RE.match(path)
        if m is None:
            out[path] = c
        elif int(m.group(1)) in back:
            out[f"items[{back[int(m.group(1))]}]{m.group(2)}"] = c
    return out


def field_level(confidence: Mapping[str, float]) -> dict[str, float]:
    """Confidence per stored field: leaf paths as they are, plus compound values
    (``items[0].dimensions``, ``items[0].weight``) at their weakest part (the minimum)."""
    out = dict(confidence)
    for path, c in confidence.items():
        m = _ITEM_PATH_RE.match(path)
        if m is None:
            continue
        parts = m.group(2).split(".")
        if len(parts) > 2:  # "", "dimensions", "length"
            key = f"items[{m.group(1)}].{parts[1]}"
            out[key] = min(out.get(key, 1.0), c)
    return out


def leaf_values(data: Any, path: str = "") -> dict[str, Any]:
    """Leaf path → value of every non-null scalar of a JSON-like structure (the same paths as
    ``value_ranges``)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(leaf_values(v, f"{path}.{k}" if path else str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.update(leaf_values(v, f"{path}[{i}]"))
    elif data is not None and not isinstance(data, bool):
        out[path] = data
    return out
