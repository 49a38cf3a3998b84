"""The catalogue's place in the workflow: every stored, merged or corrected offer updates it.

``observe`` runs inside the dialogue's transaction (a new offer, a merged reply) and returns
anomalies as review reasons for the dialogue to weigh; ``corrected`` runs inside the
corrections' transaction (a reviewer's values are the catalogue's from then on; they raise no
anomaly). ``backfill`` builds the catalogue from the offers stored before it existed.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from appliance.catalogue.rates import parse_csv
from appliance.errors import ConfigError
from appliance.settings import Settings
from appliance.store import catalogue, catalogue_rates
from appliance.store.db import Database, utcnow
from appliance.store.offers import Con

log = logging.getLogger(__name__)


def observe(
    con: Con, settings: Settings, offer_id: int, mail_id: int | None, now: dt.datetime
) -> list[str]:
    """Update the catalogue from the offer after ``mail_id`` changed it; returns review
    reasons (values far outside the supplier's history)."""
    return catalogue.observe_offer(con, settings.catalogue, offer_id, mail_id, now)


def corrected(con: Con, settings: Settings, offer_id: int, now: dt.datetime) -> None:
    """Update the catalogue after a reviewer corrected the offer (same mail, same date)."""
    catalogue.observe_offer(con, settings.catalogue, offer_id, None, now)


def backfill(db: Database, settings: Settings) -> dict[str, int]:
    """Observe every stored offer, oldest first (idempotent: unchanged items are skipped);
    returns the number of offers and of observations after the run."""
    ids = [int(r["id"]) for r in db.query("SELECT id FROM offers ORDER BY created_at, id")]
    for offer_id in ids:
        with db.transaction() as con:
            catalogue.observe_offer(con, settings.catalogue, offer_id, None, utcnow())
    n = db.scalar("SELECT count(*) FROM catalogue_observations WHERE is_current")
    return {"offers": len(ids), "observations": int(n or 0)}


def load_rates_file(db: Database, settings: Settings) -> int:
    """Load ``catalogue.rates_file`` (if set) into the stored rates; returns how many."""
    f = settings.catalogue.rates_file
    if f is None:
        return 0
    path = settings.paths.resolve(Path(f))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"catalogue.rates_file {path}: {exc.strerror or exc}") from None
    rates = parse_csv(text, source=f"file {path.name}")
    n = catalogue_rates.set_rates(db, rates, settings.catalogue.base_currency)
    log.info("loaded %s exchange rate(s) from %s", n, path)
    return n
