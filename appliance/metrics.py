"""Prometheus metrics of the appliance (one registry per process; served on /metrics).

Counters and histograms of what this process did live here. What the database and the broker
hold (mails, offers, outbox, review queue, completeness, corrections, queue depths and ages,
the active adapter) is computed at scrape time by ``appliance.metrics_db`` in the server, the DB
owner: one SQL per family, so the figures survive restarts.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MAILS_FETCHED = Counter("appliance_mails_fetched_total", "Raw mails fetched", ["account"])
MAILS_RECEIVED = Counter(
    "appliance_mails_received_total", "New mails recorded by the DB owner", ["account"]
)
MAILS_PROCESSED = Counter(
    "appliance_mails_processed_total",
    "Extraction outcomes stored per account and stage: stage extract (ok) or where it failed"
    " (preprocess, llm, validate, extract); outcome extracted, no_offer, retry, failed,"
    " duplicate_ignored",
    ["account", "stage", "outcome"],
)
ACCOUNT_FAILED = Gauge(
    "appliance_mail_account_failed",
    "1 while the account's last poll failed for good (e.g. wrong password; not retried)",
    ["account"],
)
POLLS = Counter(
    "appliance_polls_total", "Mailbox polls per account by outcome", ["account", "outcome"]
)
STORE_RESULTS = Counter("appliance_store_results_total", "Extraction outcomes stored", ["result"])
STAGE_SECONDS = Histogram(
    "appliance_stage_seconds",
    "Time spent per stage",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
LLM_TOKENS = Counter(
    "appliance_llm_tokens_total", "Tokens used by extraction (prompt, completion, cached)", ["kind"]
)
LLM_REQUESTS = Counter(
    "appliance_llm_requests_total",
    "Requests to the LLM server(s) by outcome: ok or the error code (llm_unavailable,"
    " llm_timeout, extraction_invalid, extraction_truncated)",
    ["outcome"],
)
LLM_SECONDS = Histogram(
    "appliance_llm_request_seconds",
    "Latency of one request to the LLM server (answered requests)",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
)
EXTRACTION_INVALID = Counter(
    "appliance_extraction_invalid_total",
    "Model outputs refused by the schema or the contract's checks, by error code",
    ["code"],
)
OUTBOX = Counter(
    "appliance_outbox_deliveries_total", "Outbox delivery attempts by result", ["result"]
)
WEBHOOK_DELIVERIES = Counter(
    "appliance_webhook_deliveries_total",
    "Webhook delivery attempts by hook and outcome (delivered, retrying, failed)",
    ["hook", "outcome"],
)
WEBHOOK_PENDING = Gauge(
    "appliance_webhook_pending",
    "Webhook deliveries waiting to be sent (pending or retrying)",
    ["hook"],
)
DB_RECOVERED = Gauge(
    "appliance_db_recovered",
    "1 when the server set a damaged database file aside at start and re-derived the mails from"
    " the blob store (lost: wal = the changes since the last checkpoint, database = all)",
    ["lost"],
)

# Where an extraction failed, from its error code (bounded label values for dashboards).
_STAGE_OF_CODE = {
    "mail_too_large": "preprocess",
    "malformed_mail": "preprocess",
    "empty_mail": "preprocess",
    "llm_unavailable": "llm",
    "llm_timeout": "llm",
    "extraction_invalid": "validate",
    "extraction_truncated": "validate",
}


def stage_of(code: str | None) -> str:
    """The pipeline stage an extraction error code belongs to (``extract`` when unknown)."""
    return _STAGE_OF_CODE.get(code or "", "extract")


def mail_processed(account: str | None, code: str | None, outcome: str) -> None:
    """Count one stored extraction outcome of a mail of ``account`` (no code: success)."""
    stage = stage_of(code) if code else "extract"
    MAILS_PROCESSED.labels(account or "unknown", stage, outcome).inc()
