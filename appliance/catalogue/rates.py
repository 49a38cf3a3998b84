"""Exchange rates the admin maintains, as a CSV file: ``currency,rate,date`` per line (a
header line is allowed): 1 unit of ``currency`` = ``rate`` units of the base currency, as of
``date`` (YYYY-MM-DD). Also settable over the API (``PUT /api/v1/catalogue/rates``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from appliance.catalogue.compare import Rate
from appliance.errors import ConfigError

_CODE = re.compile(r"[A-Z]{3}")


def check(currency: str, rate: float, as_of: dt.date | str, source: str) -> Rate:
    """A validated rate (ISO 4217 code, positive rate, a date); ``ValueError`` names the
    problem."""
    code = currency.strip().upper()
    if not _CODE.fullmatch(code):
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    if not rate > 0:
        raise ValueError(f"{code}: the rate must be positive, not {rate!r}")
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of).strip())
    return Rate(code, float(rate), day, source)


def parse_csv(text: str, source: str = "file") -> list[Rate]:
    """The rates of a CSV text; ``ConfigError`` names the first bad line."""
    out: list[Rate] = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if n == 1 and cells[0].lower() == "currency":
            continue
        try:
            if len(cells) != 3:
                raise ValueError("expected currency,rate,date")
            out.append(check(cells[0], float(cells[1]), cells[2], source))
        except ValueError as exc:
            raise ConfigError(f"rates file, line {n}: {exc}") from None
    return out
