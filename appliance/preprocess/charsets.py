"""Decoding mail bytes to text: declared charset, alias map, mislabel and mojibake detection.

Mail in the wild declares charsets under odd names ("win-1251", "koi8r", "ks_c_5601-1987"),
declares none at all, or declares the wrong one (a Russian cp1251 body sent as "iso-8859-1").
``decode_bytes`` never raises: it tries the declared charset, checks the result for the usual
Cyrillic misdecodings, falls back to detection (own Cyrillic heuristics first, then
charset-normalizer) and finally decodes with ``errors="replace"``.
"""

from __future__ import annotations

import codecs
import math
import re

from charset_normalizer import from_bytes

# Keys are lower-cased with "-", "_", " " and "." removed.
_ALIASES: dict[str, str] = {
    "win1251": "cp1251",
    "cp1251": "cp1251",
    "xcp1251": "cp1251",
    "windows1251": "cp1251",
    "win1252": "cp1252",
    "xcp1252": "cp1252",
    "windows1252": "cp1252",
    "koi8r": "koi8_r",
    "koi8": "koi8_r",
    "xkoi8r": "koi8_r",
    "koi8u": "koi8_u",
    "utf8": "utf-8",
    "xutf8": "utf-8",
    "unicode11utf8": "utf-8",
    "unicode20utf8": "utf-8",
    "xunicode20utf8": "utf-8",
    "ksc56011987": "cp949",
    "ksc5601": "cp949",
    "ksc56011989": "cp949",
    "euckr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "xgbk": "gb18030",
    "cn": "gb18030",
    "big5": "big5hkscs",
    "xmaccyrillic": "mac_cyrillic",
    "maccyrillic": "mac_cyrillic",
    "cp866": "cp866",
    "ibm866": "cp866",
    "xibm866": "cp866",
    "windows874": "cp874",
    "tis620": "cp874",
    "shiftjis": "cp932",
    "xsjis": "cp932",
    "sjis": "cp932",
    "ascii": "ascii",
    "usascii": "ascii",
    "iso88591": "latin-1",
    "latin1": "latin-1",
}

# Charsets whose Cyrillic misdecodings (and UTF-8 mislabels) we look for after a clean decode.
_WESTERN = {"ascii", "iso8859-1", "cp1252", "iso8859-15", "iso8859-2", "cp1250", "mac-roman"}
_CYRILLIC = {"cp1251", "koi8-r", "koi8-u", "iso8859-5", "cp866", "mac-cyrillic"}
_CYRILLIC_CANDIDATES = ("cp1251", "koi8-r")
# Codecs that are not plain text charsets (or that interpret escapes): never used for mail.
_BLOCKED = {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}

_WORD = re.compile(r"[^\W\d_]+")
_CYR = re.compile(r"[\u0400-\u04ff]")
# What Western European text decoded as cp1252 contains beyond ASCII.
_WESTERN_CHARS = frozenset(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŽžŸ"
    "€–—‘’‚“”„•…«»°±²³µ§©®™·¼½¾¿¡\xa0"
)
# log10 of Russian letter frequencies in percent.
_RU_LOG_FREQ = {
    c: math.log10(f)
    for c, f in zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (10.97, 8.45, 8.01, 7.35, 6.70, 6.26, 5.47, 4.73, 4.54, 4.40, 3.49, 3.21, 2.98, 2.81,
         2.62, 2.01, 1.90, 1.74, 1.70, 1.65, 1.59, 1.44, 1.21, 0.97, 0.94, 0.73, 0.64, 0.48,
         0.36, 0.32, 0.26, 0.04, 0.04),
        strict=True,
    )
}  # fmt: skip
_PLAUSIBLE = 0.75


def normalize_charset(name: str | None) -> str | None:
    """The Python codec name for a declared MIME charset, or None if unknown/unusable."""
    if not name:
        return None
    raw = name.strip().strip("\"'").lower()
    raw = raw.split("*", 1)[0]  # RFC 2231 language suffix: "utf-8*ru"
    key = re.sub(r"[-_ .]", "", raw)
    candidate = _ALIASES.get(key, raw)
    try:
        info = codecs.lookup(candidate)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _BLOCKED:
        return None
    return info.name


def _has_utf8_multibyte(data: bytes) -> bool:
    """True if ``data`` is valid UTF-8 and contains at least one non-ASCII character."""
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def cyrillic_score(text: str) -> float:
    """How much ``text`` looks like real Russian text: 0 = not at all, about 0.9 = clearly.

    Only words made of Cyrillic letters count; mixed-script words (what Western text decoded as
    cp1251 gives) make the text implausible. The score is the mean log10 frequency (in %) of the
    letters plus 0.3 x the share of sensibly cased words: the cp1251/koi8-r swap scrambles the
    letters and inverts their case ("дНАПШИ ДЕМЭ" for "Добрый день").
    """
    cyr_words = mixed = well_cased = 0
    letters: list[str] = []
    for word in _WORD.findall(text):
        n_cyr = len(_CYR.findall(word))
        if n_cyr == 0:
            continue
        if n_cyr != len(word):
            mixed += 1
            continue
        cyr_words += 1
        letters.extend(word.lower())
        if word.islower() or word.isupper() or word.istitle():
            well_cased += 1
    if cyr_words == 0 or mixed > 0.2 * cyr_words:
        return 0.0
    known = [_RU_LOG_FREQ.get(c, -1.5) for c in letters]
    return sum(known) / len(known) + 0.3 * well_cased / cyr_words


def _best_cyrillic(data: bytes) -> tuple[str, str] | None:
    """(codec, text) of the most plausible single-byte Cyrillic decoding, or None."""
    best: tuple[float, str, str] | None = None
    for codec in _CYRILLIC_CANDIDATES:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = cyrillic_score(text)
        if best is None or score > best[0]:
            best = (score, codec, text)
    if best is None or best[0] < _PLAUSIBLE:
        return None
    return best[1], best[2]


def _looks_like_cyrillic_mojibake(text: str) -> bool:
    """Western-decoded text whose non-ASCII letters form whole words (cp1251 read as latin-1)."""
    high_words = 0
    words = 0
    for word in _WORD.findall(text):
        words += 1
        if len(word) >= 2 and all("\u00c0" <= c <= "\u00ff" for c in word):
            high_words += 1
    return high_words >= 1 and high_words >= 0.15 * words


def _detect(data: bytes) -> tuple[str, str]:
    """(codec, text) for bytes of unknown charset: UTF-8, Cyrillic heuristics, normalizer."""
    if data.isascii():
        return "ascii", data.decode("ascii")
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    cyr = _best_cyrillic(data)
    if cyr is not None:
        return cyr
    western = data.decode("cp1252", errors="replace")
    if all(c.isascii() or c in _WESTERN_CHARS for c in western):
        return "cp1252", western
    match = from_bytes(data).best()
    if match is not None:
        codec = normalize_charset(match.encoding)
        if codec is not None:
            try:
                return codec, data.decode(codec)
            except (UnicodeDecodeError, LookupError):
                pass
    return "cp1252", data.decode("cp1252", errors="replace")


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, list[str]]:
    """Decode ``data`` declared as ``declared`` (may be None); returns (text, warnings).

    Never raises. Warnings name what went wrong, e.g.
    "charset iso-8859-1 declared but cp1251 detected".
    """
    if not data:
        return "", []
    codec = normalize_charset(declared)
    warnings: list[str] = []
    if codec is None:
        found, text = _detect(data)
        if declared and declared.strip():
            warnings.append(f"unknown charset {declared.strip()!r}; {found} detected")
        elif found != "ascii":
            warnings.append(f"no charset declared; {found} detected")
        return text, warnings

    if codec in {"ascii", "iso8859-1"} and any(0x80 <= b <= 0x9F for b in data):
        codec = "cp1252"  # what "iso-8859-1" with C1 bytes means in practice (as in browsers)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        found, text = _detect(data)
        if found == codec:  # detection agrees but the bytes are broken somewhere
            text = data.decode(codec, errors="replace")
            return text, [f"charset {declared} has undecodable bytes; replaced"]
        return text, [f"charset {declared} declared but {found} detected"]

    if (codec in _WESTERN or codec in _CYRILLIC) and _has_utf8_multibyte(data):
        return data.decode("utf-8"), [f"charset {declared} declared but utf-8 detected"]
    if codec in _WESTERN and _looks_like_cyrillic_mojibake(text):
        cyr = _best_cyrillic(data)
        if cyr is not None:
            return cyr[1], [f"charset {declared} declared but {cyr[0]} detected"]
    if codec in {"cp1251", "koi8-r"}:
        declared_score = cyrillic_score(text)
        cyr = _best_cyrillic(data)
        if (
            cyr is not None
            and normalize_charset(cyr[0]) != codec
            and declared_score < _PLAUSIBLE
            and len(_CYR.findall(text)) >= 20
        ):
            return cyr[1], [f"charset {declared} declared but {cyr[0]} detected"]
    return text, warnings
