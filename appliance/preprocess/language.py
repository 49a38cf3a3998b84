"""Language of a mail text: by script first, then by stopwords among Latin-script languages.

"ru" when Cyrillic letters dominate the letters, "en" for Latin text unless German, French or
Spanish stopwords clearly win, a few other scripts by their letters, "und" when there is nothing
to go on (no letters).
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and of to in for is are with on we you your our this that be as at by from "
        "please price prices regards best dear hello thank thanks will can per"
    ),
    "de": _words(
        "der die das und ist nicht mit für wir sie ihr ihre ihnen den dem des ein eine einen "
        "zu auf von bitte preis grüße freundlichen sehr geehrte wird werden auch"
    ),
    "fr": _words(
        "le la les et est des une un pour avec nous vous votre vos du au aux dans sur ce "
        "cette prix bonjour cordialement merci sont être"
    ),
    "es": _words(
        "el la los las y es de del con para por nosotros usted su sus una un en que precio "
        "hola saludos gracias estimado atentamente está"
    ),
}
# (language, code point ranges) of non-Latin scripts, checked in this order.
_SCRIPTS: list[tuple[str, tuple[tuple[int, int], ...]]] = [
    ("ru", ((0x0400, 0x052F),)),
    ("el", ((0x0370, 0x03FF),)),
    ("ja", ((0x3040, 0x30FF),)),  # kana decides Japanese before Han
    ("ko", ((0xAC00, 0xD7AF), (0x1100, 0x11FF))),
    ("zh", ((0x4E00, 0x9FFF), (0x3400, 0x4DBF))),
    ("ar", ((0x0600, 0x06FF),)),
    ("he", ((0x0590, 0x05FF),)),
    ("th", ((0x0E00, 0x0E7F),)),
]


def _script(c: str) -> str | None:
    o = ord(c)
    if c.isascii() or 0x00C0 <= o <= 0x024F:
        return "latin"
    for lang, ranges in _SCRIPTS:
        if any(lo <= o <= hi for lo, hi in ranges):
            return lang
    return None


def detect_language(text: str) -> str:
    """BCP 47 primary language of ``text``: "ru", "en", "de", "fr", "es", ... or "und"."""
    counts: Counter[str] = Counter()
    for c in text:
        if c.isalpha():
            script = _script(c)
            if script is not None:
                counts[script] += 1
    if not counts:
        return "und"
    total = sum(counts.values())
    if counts["ja"] and counts["ja"] + counts["zh"] > 0.5 * total:
        return "ja"  # Japanese mixes kana with Han characters
    script = counts.most_common(1)[0][0]
    if script != "latin":
        return script
    words = [w.lower() for w in _WORD.findall(text)]
    hits = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
    best = max(hits, key=lambda lang: hits[lang])
    if best != "en" and hits[best] >= 2 and hits[best] > 1.5 * hits["en"]:
        return best
    return "en"
