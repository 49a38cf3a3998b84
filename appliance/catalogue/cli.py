"""``appliance catalogue backfill|rates FILE`` (with the server stopped: they open the DB)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from appliance.catalogue.rates import parse_csv
from appliance.errors import ConfigError
from appliance.settings import Settings


def cmd_catalogue(s: Settings, a: argparse.Namespace) -> int:
    """Build the catalogue from the stored offers, or load a rates CSV into the database."""
    from appliance.store import catalogue_rates
    from appliance.store.db import Database
    from appliance.workflow import catalogue

    db = Database.open(s.paths.db_file)
    try:
        if a.action == "backfill":
            print(json.dumps(catalogue.backfill(db, s)))
        else:
            if not a.file:
                raise ConfigError("catalogue rates: name the CSV file")
            rates = parse_csv(Path(a.file).read_text(encoding="utf-8"), f"file {Path(a.file).name}")
            n = catalogue_rates.set_rates(db, rates, s.catalogue.base_currency)
            print(f"{n} rate(s) into {s.catalogue.base_currency.upper()} stored")
    finally:
        db.close()
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``catalogue`` subcommand to the ``appliance`` parser."""
    c = sub.add_parser("catalogue", help="supplier catalogue: backfill from offers, load rates")
    c.add_argument("action", choices=["backfill", "rates"])
    c.add_argument("file", nargs="?", help="rates: a CSV of currency,rate,date")
    c.set_defaults(fn=cmd_catalogue)
