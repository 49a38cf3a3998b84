"""Metrics computed at scrape time in the server (the DB owner) from DuckDB and the broker.

The database is the truth about mails, offers and e-mails, so these are gauges read from it
on each scrape (they survive restarts and need no counting where things happen): one SQL per
family, label sets bounded by the states, error codes, accounts and contract fields.
``generate(db, ...)`` renders them in the Prometheus text format; the server's ``/metrics``
appends them to the process's own counters (``appliance.metrics``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from appliance.metrics import stage_of
from appliance.settings import Settings
from appliance.store.db import Database, utcnow
from appliance.store.offers import ITEM_SCALARS, OFFER_SCALARS, OFFER_STATES
from appliance.store.outbox import DELIVERED, OUTBOX_STATES
from appliance.store.repo import MAIL_STATES

log = logging.getLogger(__name__)

# Item fields for completeness and corrections: the scalars plus the two composite ones.
ITEM_FIELDS = (*ITEM_SCALARS, "dimensions", "weight")
FIELDS = (*ITEM_FIELDS, *OFFER_SCALARS)
# Outbox kinds that ask the supplier something.
QUESTION_KINDS = ("clarification", "reminder")


@dataclass
class BrokerView:
    """Where the server reads queue depths and ages (None: no broker, e.g. a read-only app)."""

    client: redis.Redis
    namespace: str
    queues: Iterable[str]


@dataclass
class Sources:
    """What the families are computed from."""

    db: Database
    broker: BrokerView | None = None
    adapter: Any = None  # () -> str | None: the active adapter; None: the family is left out
    # () -> {account: {"status": ...}}: each mail account's last poll; None: left out
    accounts: Any = None
    errors: list[str] = field(default_factory=list)


def _g(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def mail_families(db: Database) -> Iterator[Metric]:
    """Mails per account and state; failed mails per account, stage and error code."""
    rows = db.query(
        "SELECT account, state, error_code, count(*) AS n FROM mails GROUP BY ALL ORDER BY ALL"
    )
    by_state = _g("appliance_mails", "Mails per account and state", ["account", "state"])
    failed = _g(
        "appliance_mails_failed",
        "Mails whose extraction failed for good, per account, stage and error code",
        ["account", "stage", "code"],
    )
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        acc = str(r["account"])
        counts[(acc, r["state"])] = counts.get((acc, r["state"]), 0) + int(r["n"])
        if r["state"] == "failed":
            code = str(r["error_code"] or "unknown")
            failed.add_metric([acc, stage_of(code), code], int(r["n"]))
    for acc in sorted({a for a, _ in counts}):
        for state in MAIL_STATES:
            by_state.add_metric([acc, state], counts.get((acc, state), 0))
    yield by_state
    yield failed


def offer_families(db: Database) -> Iterator[Metric]:
    """Offers (total and per state), the review queue's size and the age of its oldest."""
    rows = db.query(
        "SELECT o.state, count(*) AS n, min(t.entered) AS oldest FROM offers o LEFT JOIN ("
        " SELECT offer_id, max(occurred_at) AS entered FROM offer_transitions"
        " WHERE to_state = 'needs_review' GROUP BY offer_id) t ON t.offer_id = o.id"
        " GROUP BY o.state"
    )
    per = {r["state"]: r for r in rows}
    total = _g("appliance_offers", "Offers stored")
    total.add_metric([], sum(int(r["n"]) for r in rows))
    by_state = _g("appliance_offers_by_state", "Offers per state", ["state"])
    for s in OFFER_STATES:
        by_state.add_metric([s], int(per[s]["n"]) if s in per else 0)
    review = per.get("needs_review")
    size = _g("appliance_review_queue", "Offers waiting for a reviewer (state needs_review)")
    size.add_metric([], int(review["n"]) if review else 0)
    age = _g(
        "appliance_review_queue_oldest_seconds",
        "How long the offer longest in the review queue has waited (0 when empty)",
    )
    oldest = review["oldest"] if review else None
    age.add_metric([], max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
    yield from (total, by_state, size, age)


def outbox_families(db: Database) -> Iterator[Metric]:
    """Automatic e-mails per state, and per kind and state."""
    rows = db.query("SELECT kind, state, count(*) AS n FROM outbox GROUP BY ALL ORDER BY ALL")
    by_state = _g("appliance_outbox", "Automatic e-mails per outbox state", ["state"])
    by_kind = _g(
        "appliance_outbox_emails", "Automatic e-mails per kind and state", ["kind", "state"]
    )
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["state"]] = totals.get(r["state"], 0) + int(r["n"])
        by_kind.add_metric([str(r["kind"]), str(r["state"])], int(r["n"]))
    for s in OUTBOX_STATES:
        by_state.add_metric([s], totals.get(s, 0))
    yield by_state
    yield by_kind


def clarification_families(db: Database) -> Iterator[Metric]:
    """Clarifications asked (questions and reminders delivered), suppressed, answered and
    expired (no answer after the reminder: the scheduler sent the offer to review)."""
    kinds = ", ".join(f"'{k}'" for k in QUESTION_KINDS)
    delivered = ", ".join(f"'{s}'" for s in DELIVERED)
    row = db.query(
        "SELECT"
        f" (SELECT count(*) FROM outbox WHERE kind = 'clarification' AND state IN ({delivered}))"
        " AS sent,"
        f" (SELECT count(*) FROM outbox WHERE kind = 'reminder' AND state IN ({delivered}))"
        " AS reminded,"
        f" (SELECT count(*) FROM outbox WHERE kind IN ({kinds}) AND state = 'suppressed')"
        " AS suppressed,"
        " (SELECT count(*) FROM offer_transitions WHERE from_state = 'awaiting_supplier'"
        "  AND actor = 'supplier') AS answered,"
        " (SELECT count(*) FROM offer_transitions WHERE from_state = 'awaiting_supplier'"
        "  AND to_state = 'needs_review' AND actor = 'scheduler') AS expired,"
        " (SELECT count(*) FROM offers WHERE state = 'awaiting_supplier') AS waiting"
    )[0]
    g = _g(
        "appliance_clarifications",
        "Clarification e-mails so far: sent (questions delivered), reminded, suppressed,"
        " answered (supplier replies merged), expired (no answer: sent to review), waiting"
        " (offers awaiting the supplier now)",
        ["event"],
    )
    for event in ("sent", "reminded", "suppressed", "answered", "expired", "waiting"):
        g.add_metric([event], int(row[event] or 0))
    yield g


def field_families(db: Database) -> Iterator[Metric]:
    """Completeness per field (share of current items, or offers for offer-level fields,
    with the field filled) and corrections per field (rows and rate per reviewed offer)."""
    cols = ", ".join(
        f"count({'dim_unit' if f == 'dimensions' else 'weight_unit' if f == 'weight' else f})"
        f" AS {f}"
        for f in ITEM_FIELDS
    )
    ocols = ", ".join(f"count({f}) AS {f}" for f in OFFER_SCALARS)
    row = db.query(
        f"SELECT * FROM (SELECT count(*) AS items, {cols} FROM offer_items)"
        f" CROSS JOIN (SELECT count(*) AS offers, {ocols} FROM offers)"
        " CROSS JOIN (SELECT count(*) AS reviewed FROM offers WHERE reviewed_at IS NOT NULL"
        "  OR id IN (SELECT offer_id FROM corrections))"
    )[0]
    comp = _g(
        "appliance_field_completeness",
        "Share of current items (offers, for offer-level fields) with the field filled",
        ["field", "level"],
    )
    for f in ITEM_FIELDS:
        comp.add_metric([f, "item"], int(row[f]) / row["items"] if row["items"] else 0.0)
    for f in OFFER_SCALARS:
        comp.add_metric([f, "offer"], int(row[f]) / row["offers"] if row["offers"] else 0.0)
    items = _g("appliance_items", "Current offer items (the denominator of item completeness)")
    items.add_metric([], int(row["items"]))
    reviewed = _g(
        "appliance_offers_reviewed", "Offers approved or corrected by a reviewer (so far)"
    )
    reviewed.add_metric([], int(row["reviewed"]))
    yield from (comp, items, reviewed)

    names = ", ".join(f"'{f}'" for f in FIELDS)
    rows = db.query(
        f"SELECT field, count(*) AS n FROM corrections WHERE action = 'set' AND field IN ({names})"
        " GROUP BY field"
    )
    per = {r["field"]: int(r["n"]) for r in rows}
    corr = _g("appliance_corrections", "Values corrected by reviewers, per field", ["field"])
    rate = _g(
        "appliance_correction_rate",
        "Corrections per reviewed offer, per field (corrections / offers reviewed)",
        ["field"],
    )
    n = int(row["reviewed"])
    for f in FIELDS:
        corr.add_metric([f], per.get(f, 0))
        rate.add_metric([f], per.get(f, 0) / n if n else 0.0)
    yield corr
    yield rate


def broker_families(view: BrokerView) -> Iterator[Metric]:
    """Queue depth, delayed and dead messages, and the age of the oldest message per queue."""
    from appliance.jobs.broker import queue_stats

    stats = queue_stats(view.client, view.namespace, view.queues)
    depth = _g("appliance_queue_depth", "Messages ready or in flight per queue", ["queue"])
    delayed = _g("appliance_queue_delayed", "Messages waiting for a retry per queue", ["queue"])
    dead = _g("appliance_queue_dead", "Dead-lettered messages per queue", ["queue"])
    age = _g(
        "appliance_queue_oldest_age_seconds",
        "Age of the oldest message (ready, in flight or delayed) per queue; 0 when empty",
        ["queue"],
    )
    for q, s in stats.items():
        depth.add_metric([q], s.depth)
        delayed.add_metric([q], s.delayed)
        dead.add_metric([q], s.dead)
        age.add_metric([q], s.oldest_age_s)
    yield from (depth, delayed, dead, age)


def account_families(polled: dict[str, dict[str, Any]]) -> Iterator[Metric]:
    """``appliance_mail_account_ok``: 0 for an account whose last poll failed for good (a
    wrong password: not retried), 1 otherwise (``mail.status``, written by the worker)."""
    ok = _g(
        "appliance_mail_account_ok",
        "0 while the account's last poll failed for good (e.g. wrong password), else 1",
        ["account"],
    )
    for name, entry in sorted(polled.items()):
        ok.add_metric([name], 0 if entry.get("status") == "failed" else 1)
    yield ok


class ScrapeCollector(Collector):
    """Every family above; a family whose source fails is left out and counted in
    ``appliance_scrape_errors`` (the rest of the scrape still answers)."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        s = self.sources
        parts: list[tuple[str, Any]] = [
            ("mails", lambda: mail_families(s.db)),
            ("offers", lambda: offer_families(s.db)),
            ("outbox", lambda: outbox_families(s.db)),
            ("clarifications", lambda: clarification_families(s.db)),
            ("fields", lambda: field_families(s.db)),
        ]
        if s.broker is not None:
            view = s.broker
            parts.append(("broker", lambda: broker_families(view)))
        if s.accounts is not None:
            parts.append(("accounts", lambda: account_families(s.accounts())))
        failed: list[str] = []
        for name, make in parts:
            try:
                families = list(make())
            except Exception as exc:  # a scrape must answer; the failure is itself a metric
                log.warning("metrics: %s failed: %s", name, exc)
                failed.append(name)
                continue
            yield from families
        if s.adapter is not None:
            try:
                name = s.adapter() or "base"
                info = _g(
                    "appliance_active_adapter",
                    "1 for the LoRA adapter extractions use now (adapter=base: none)",
                    ["adapter"],
                )
                info.add_metric([str(name)], 1)
                yield info
            except Exception as exc:
                log.warning("metrics: active adapter failed: %s", exc)
                failed.append("adapter")
        errors = _g("appliance_scrape_errors", "Metric sources that failed this scrape", ["source"])
        for name in failed:
            errors.add_metric([name], 1)
        up = _g("appliance_broker_up", "1 when the broker (Redis) answered this scrape")
        up.add_metric([], 0 if "broker" in failed or s.broker is None else 1)
        yield errors
        yield up


def generate(sources: Sources) -> bytes:
    """The families of ``sources`` in the Prometheus text format (built fresh per scrape)."""
    start = time.perf_counter()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(sources))
    body = generate_latest(registry)
    took = time.perf_counter() - start
    tail = (
        "# HELP appliance_scrape_seconds Time to compute the DB and broker metrics\n"
        "# TYPE appliance_scrape_seconds gauge\n"
        f"appliance_scrape_seconds {took:.6f}\n"
    )
    return body + tail.encode()


def server_sources(settings: Settings, db: Database, client: redis.Redis | None) -> Sources:
    """The sources of the server's scrape: its DB, the broker's queues, the active adapter."""
    from appliance.adapters import active_adapter
    from appliance.jobs.broker import SERVER_QUEUES, WORKER_QUEUES

    view = None
    if client is not None:
        view = BrokerView(
            client, f"{settings.redis.namespace}-dq", sorted(WORKER_QUEUES | SERVER_QUEUES)
        )
    from appliance.mail import status as mail_status

    names = [a.name for a in settings.accounts]
    accounts = None
    if client is not None and names:
        ns = settings.redis.namespace
        accounts = lambda: mail_status.read(client, ns, names)  # noqa: E731
    return Sources(
        db=db, broker=view, adapter=lambda: active_adapter(settings, client), accounts=accounts
    )
