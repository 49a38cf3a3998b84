"""Quoted-printable left in a body that does not declare it.

Mail that went through an old gateway or an archive export (the Enron corpus, forwarded
mainframe mail) often says ``Content-Transfer-Encoding: 7bit`` while its text still carries
quoted-printable soft line breaks (``…Quantity    =`` at the end of a line) and escapes
(``=20``, ``=3D``). Left as they are, a table row is cut in two and ``=20`` reads as a number.
The standard library's :mod:`quopri` decodes such text, but it would also turn an ordinary
``= $ 220.00`` or ``A=B`` into something else when the text is not quoted-printable at all, so
this module decodes only where the residue is unmistakable and only what quoted-printable
means unambiguously: soft breaks and escapes of printable ASCII, tab and space.
"""

from __future__ import annotations

import re

# A soft line break: "=" ending a line that is long enough to have been wrapped at 76.
_SOFT_BREAK = re.compile(r"(?m)^(?=.{40,}=\r?$).*?(=)\r?$")
_ESCAPE = re.compile(r"=(0[9]|[2-7][0-9A-F])")
_BREAK = re.compile(r"=\r?\n")


def has_residue(text: str) -> bool:
    """Whether ``text`` shows quoted-printable it was not decoded from: two soft line breaks
    or more, and an escape (``=20``, ``=3D``) or a third soft break."""
    breaks = len(_SOFT_BREAK.findall(text))
    return breaks >= 2 and (breaks >= 3 or _ESCAPE.search(text) is not None)


def undo_residue(text: str) -> str:
    """``text`` with quoted-printable residue decoded (soft breaks joined, ``=20``/``=09``/
    ``=3D``-style escapes of printable characters replaced); unchanged without residue."""
    if not has_residue(text):
        return text
    joined = _BREAK.sub("", text)
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), joined)
