"""Prometheus metrics of the appliance (one registry per process; served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MAILS_FETCHED = Counter("appliance_mails_fetched_total", "Raw mails fetched", ["account"])
MAILS_RECEIVED = Counter(
    "appliance_mails_received_total", "New mails recorded by the DB owner", ["account"]
)
MAILS_PROCESSED = Counter(
    "appliance_mails_processed_total", "Mails through a stage by outcome", ["stage", "outcome"]
)
STORE_RESULTS = Counter("appliance_store_results_total", "Extraction outcomes stored", ["result"])
STAGE_SECONDS = Histogram(
    "appliance_stage_seconds",
    "Time spent per stage",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
LLM_TOKENS = Counter("appliance_llm_tokens_total", "Tokens used by extraction", ["kind"])
QUEUE_DEPTH = Gauge("appliance_queue_depth", "Messages waiting per queue", ["queue"])
MAILS_BY_STATE = Gauge("appliance_mails", "Mails per state", ["state"])
OFFERS_TOTAL = Gauge("appliance_offers", "Offers stored")
OUTBOX = Counter(
    "appliance_outbox_deliveries_total", "Outbox delivery attempts by result", ["result"]
)
OFFERS_BY_STATE = Gauge("appliance_offers_by_state", "Offers per state", ["state"])
OUTBOX_BY_STATE = Gauge("appliance_outbox", "Automatic e-mails per outbox state", ["state"])
