"""The values of extra fields (``[[extraction.fields]]``) as their configured type: text, number,
integer, boolean or ISO date. Used by ``extract.fields.ExtraField.coerce`` (model output,
corrections) and by the answer form's reader."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from appliance.extract.contract import MAX_NUMBER

# Longest text an extra field holds (also the bound of its string in the model's schema).
MAX_EXTRA_TEXT = 120


def _text(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise TypeError(f"not text: {v!r}")
    s = v if isinstance(v, str) else format(v, "g")
    if len(s) > MAX_EXTRA_TEXT:
        raise ValueError(f"longer than {MAX_EXTRA_TEXT} characters")
    return s


def _number(v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    x = float(v.replace(" ", "").replace(",", ".")) if isinstance(v, str) else float(v)
    if not math.isfinite(x) or abs(x) > MAX_NUMBER:
        raise ValueError(f"not a number within ±{MAX_NUMBER:g}: {v!r}")
    return x


def _integer(v: Any) -> int:
    x = _number(v)
    if not x.is_integer():
        raise ValueError(f"not a whole number: {v!r}")
    return int(x)


_TRUE: frozenset[str] = frozenset({"true", "yes", "y", "1", "да", "д"})
_FALSE: frozenset[str] = frozenset({"false", "no", "n", "0", "нет", "н"})


def _boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().casefold().rstrip(".!")
    if s in _TRUE or s in _FALSE:
        return s in _TRUE
    raise ValueError(f"not yes or no: {v!r}")


def _date(v: Any) -> str:
    return (v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))).isoformat()


# Type name → the function that makes a value of it (``TypeError``/``ValueError`` when not).
COERCE: dict[str, Callable[[Any], Any]] = {
    "text": _text, "number": _number, "integer": _integer, "boolean": _boolean, "date": _date,
}  # fmt: skip
# The words a yes/no answer may be (lower case).
BOOLEAN_WORDS: frozenset[str] = _TRUE | _FALSE
