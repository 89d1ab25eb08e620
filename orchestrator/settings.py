"""Every setting in one place, read from the environment with the `NUDGEFLOW_` prefix.

`nudgeflow config` prints them (secrets hidden); docs/configuration.md lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nudgeflow.channels.inapp.auth import SigningKeys

BrokerProfile = Literal["kafka", "tansu"]
DEFAULT_APP_ID = "nudgeflow"
KAFKA_FETCH_WAIT_MS = 500
TANSU_FETCH_WAIT_MS = 20


def timers_topic_of(app_id: str) -> str:
    """The timers topic of an app that does not name one."""
    return f"{app_id}.timers"


class Settings(BaseSettings):
    """Runtime configuration. Defaults are safe for a production Apache Kafka cluster."""

    model_config = SettingsConfigDict(env_prefix="NUDGEFLOW_", env_file=".env", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Comma-separated host:port list. Unset: an embedded Tansu broker is started.",
    )
    broker_profile: BrokerProfile = Field(
        default="kafka",
        description="'kafka' for Apache Kafka; 'tansu' shortens group timeouts and disables producer "
        "batching to work around Tansu limits (set automatically for the embedded broker).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How every Kafka client connects (TLS and/or SASL)."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password (secret).")
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle that signed the brokers' certificates.")

    kafka_fetch_wait_ms: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="How long a consumer's fetch may wait for data. Unset: 500 ms on Apache Kafka (it answers as "
        "soon as data arrives, so this only paces polls of idle partitions), 20 ms on Tansu (it answers only when "
        "the wait expires, so the wait is added to every hop: event to prompt crosses three).",
    )
    app_id: str = Field(default=DEFAULT_APP_ID, description="Consumer group id and prefix of internal topics.")
    events_topic: str = Field(default="nudgeflow.events", description="Segment-spec product events, keyed by user id.")
    events_by_user_topic: str | None = Field(
        default=None,
        description="Internal: every valid event re-keyed by user id with Nudgeflow's partitioner (murmur2), "
        "read by the worker's agent. Unset: `<events topic>.by-user`.",
    )
    dead_letter_topic: str = Field(default="nudgeflow.events.dlq", description="Rejected events with the reason.")
    outcomes_topic: str = Field(default="nudgeflow.outcomes", description="Completions and deliveries, for analytics.")
    prompts_topic: str = Field(
        default="nudgeflow.prompts", description="In-app prompts (compacted), the inbox's source of truth."
    )
    deliveries_topic: str = Field(
        default="nudgeflow.deliveries", description="Email/Slack deliveries waiting for their channel."
    )
    timers_topic: str = Field(
        default="",
        description="Internal: due timers, handed to the partition owning the user. Unset: `<app id>.timers`, "
        "so two apps (or two deployments) on one cluster never read each other's timers.",
    )
    preferences_topic: str = Field(
        default="nudgeflow.preferences", description="Per-user notification preferences (compacted), keyed by user id."
    )
    topic_partitions: int = Field(default=8, ge=1, description="Partitions of the events topic and per-user tables.")
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replication factor of the topics Nudgeflow and Faust create (3 on a production cluster).",
    )

    rules_path: Path = Field(default=Path("playbooks"), description="Playbook file or folder.")
    dedupe_window: int = Field(
        default=1000, ge=1, description="Recent messageIds remembered per user for de-duplication."
    )
    table_dir: Path = Field(
        default=Path(".nudgeflow/tables"),
        description="Where each worker keeps its state (RocksDB, one database per table and partition). Give "
        "every worker its own; keep it across restarts, so a restart resumes from local state instead of "
        "replaying the changelog (docs/deploy.md: sizing and backup).",
    )
    state_store: str = Field(
        default="rocksdb://",
        description="Faust table store: `rocksdb://` (state on disk, in table_dir) or `memory://` "
        "(state in RAM, rebuilt from the changelog on every start; for experiments only).",
    )
    rocksdb_block_cache_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024 * 1024,
        description="RocksDB block cache of the worker (bytes), shared by every table partition it holds "
        "(active and standby), whatever the number of users or partitions.",
    )
    rocksdb_write_buffer_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024 * 1024,
        description="RocksDB memtable size per table partition (bytes), flushed to disk when full.",
    )
    standby_replicas: int = Field(
        default=1,
        ge=0,
        description="Standby copies of each table partition kept up to date on other workers, so one takes "
        "over a failed worker's users without a full restore.",
    )
    batch_max_records: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="The event agent handles up to this many records at a time: their outputs are sent "
        "together, the broker's acks awaited once, and the records acked after the users' state is stored "
        "(1: a wait per record).",
    )
    batch_max_wait_ms: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="How long the event agent lets a batch fill before handling what it has: added to an event's "
        "latency at most when the stream is quiet.",
    )
    partition_stall_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A partition with records waiting whose read position has not moved for this long, outside "
        "a rebalance, is logged and read again from its next offset (orchestrator/broker/stall_watch.py).",
    )
    bulk_restore_min_records: int = Field(
        default=1_000,
        ge=1,
        description="A worker recovering its tables reads the changelog partitions it owns in bulk, straight into "
        "RocksDB, when at least this many records are behind its local state (a new worker, a lost data "
        "directory); fewer go through Faust's per-record recovery (orchestrator/broker/bulk_restore.py).",
    )
    max_event_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=512 * 1024,
        description="Largest event value accepted (bytes). Larger records are dead-lettered with a 4 KiB excerpt, "
        "their size and sha256; the full record stays on the events topic at the offset the dead letter names.",
    )
    ingest_prefilter: bool = Field(
        default=True,
        description="Drop, at ingest, track events no loaded rule reads (counted as `filtered` in "
        "nudgeflow_events_total); identify calls and clicks always pass. Off: every valid event reaches the "
        "user's state (a stall `of: signup` then counts from the user's very first event, noise included).",
    )
    max_event_depth: int = Field(
        default=32,
        ge=2,
        le=200,
        description="Deepest nesting of JSON arrays/objects accepted in an event; deeper ones are dead-lettered.",
    )

    sendgrid_api_key: SecretStr | None = Field(default=None, description="Enables the email channel.")
    sendgrid_host: str = Field(default="https://api.sendgrid.com", description="SendGrid API base URL.")
    email_from: str = Field(default="onboarding@example.com", description="Sender address of emails.")
    email_from_name: str | None = Field(default=None, description="Sender display name of emails.")
    slack_bot_token: SecretStr | None = Field(default=None, description="Enables the Slack channel (xoxb-...).")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL.")
    slack_default_channel: str | None = Field(default=None, description="Team channel for celebrations.")
    public_api_url: str | None = Field(
        default=None,
        description="Where users reach the in-app API (https://nudges.example.com); with "
        "NUDGEFLOW_INAPP_SIGNING_SECRET it puts a one-click unsubscribe link in every email.",
    )
    delivery_max_attempts: int | None = Field(
        default=None,
        ge=1,
        description="Optional cap on attempts per email/Slack message; unset: retry until "
        "NUDGEFLOW_DELIVERY_RETRY_WINDOW ends.",
    )
    delivery_base_delay: float = Field(default=1.0, ge=0, description="First retry delay (s), doubled each time.")
    delivery_max_delay: float = Field(default=300.0, ge=0, description="Longest retry delay (s), before jitter.")
    delivery_retry_window: float = Field(
        default=86400.0,
        gt=0,
        description="Seconds an email/Slack message keeps being retried after it was queued; then it is "
        "dead-lettered (`nudgeflow deliveries failed` lists it, `nudgeflow deliveries retry` replays it).",
    )
    delivery_concurrency: int = Field(
        default=32, ge=1, description="Email/Slack sends in flight per provider per worker."
    )
    delivery_breaker_failures: int = Field(
        default=5, ge=1, description="Consecutive retryable failures that open a provider's circuit breaker."
    )
    delivery_breaker_reset: float = Field(
        default=30.0, ge=0, description="Seconds an open breaker waits before one probe send (half-open)."
    )
    delivery_celebration_max_age: float = Field(
        default=172800.0,
        gt=0,
        description="Seconds after its send time a celebration email/Slack message expires instead of arriving stale.",
    )
    delivery_nudge_max_age: float = Field(
        default=86400.0, gt=0, description="Seconds after its send time a nudge email/Slack message expires."
    )
    delivery_retention: float = Field(
        default=604800.0,
        gt=0,
        description="Seconds a finished delivery stays in the outbox table (a replayed request within it is "
        "not sent again); older rows are pruned.",
    )

    api_host: str = Field(default="127.0.0.1", description="Interface of the in-app API (0.0.0.0 in a container).")
    api_port: int = Field(default=8080, ge=0, le=65535, description="In-app API port; 0 picks a free one.")
    api_advertised_url: str | None = Field(
        default=None,
        description="How the other workers reach this worker's in-app API, to forward a request about a user whose "
        "partition this worker owns (e.g. http://10.0.3.7:8080, a pod's address). Unset: http://<api host>:<api port>.",
    )
    run_api: bool = Field(default=True, description="Serve the in-app API from the worker process.")
    inapp_signing_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key (HS256 JWT) of the in-app API's per-user tokens and unsubscribe links; the product "
        "backend mints tokens with the same key. Unset: a random key per process (only the demo's own tokens work).",
    )
    inapp_signing_key_id: str = Field(
        default="k1",
        min_length=1,
        description="Key id (JWT `kid` header) of NUDGEFLOW_INAPP_SIGNING_SECRET: new tokens carry it, and a token "
        "is checked with the key its `kid` names. Change it together with the secret to rotate keys.",
    )
    inapp_previous_signing_keys: dict[str, SecretStr] = Field(
        default={},  # pydantic copies it per instance
        description='Retired keys still accepted for verification while their tokens live, as JSON {"kid": '
        '"secret"} (secret). Unsubscribe links live 90 days: keep a key that long after rotating it away.',
    )
    api_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body the in-app API accepts (bytes); larger: 413."
    )
    sendgrid_webhook_replay_window: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a signed SendGrid webhook batch stays acceptable after (or before) its signature "
        "timestamp; older batches are refused with 403, so a captured request cannot be replayed.",
    )
    inapp_allowed_origins: str = Field(
        default="",
        description="Comma-separated browser origins allowed to call the in-app API (CORS), "
        "e.g. https://app.example.com.",
    )
    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        description="Verification key of SendGrid's signed Event Webhook (base64 or PEM). Unset: the webhook "
        "answers 503 and nothing is processed.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: Literal["json", "console"] = Field(
        default="json", description="JSON lines (structlog) for log collectors, or readable console lines."
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_timers_topic(cls, data: Any) -> Any:
        """The timers topic belongs to one app: its name follows `app_id` unless set."""
        if isinstance(data, dict) and not data.get("timers_topic"):
            return {**data, "timers_topic": timers_topic_of(data.get("app_id") or DEFAULT_APP_ID)}
        return data

    @classmethod
    def defaults(cls) -> Settings:
        """Every default, derived ones included, without reading the environment (for generated docs)."""
        return cls.model_construct(timers_topic=timers_topic_of(DEFAULT_APP_ID))

    @property
    def relay_topic(self) -> str:
        """Internal: records from one key's partition to another's (account signals and notices, identity merges)."""
        return f"{self.app_id}.relay"

    @property
    def fetch_wait_ms(self) -> int:
        if self.kafka_fetch_wait_ms is not None:
            return self.kafka_fetch_wait_ms
        return TANSU_FETCH_WAIT_MS if self.broker_profile == "tansu" else KAFKA_FETCH_WAIT_MS

    @property
    def advertised_api_url(self) -> str:
        return self.api_advertised_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def user_events_topic(self) -> str:
        """The by-user topic: set explicitly or derived from the events topic."""
        return self.events_by_user_topic or f"{self.events_topic}.by-user"

    def uses_embedded_broker(self) -> bool:
        return not self.kafka_bootstrap_servers

    def secret_values(self) -> list[str]:
        """Every configured secret, so the log redactor can mask it wherever it appears."""
        found = [value for value in self.__dict__.values() if isinstance(value, SecretStr)]
        found += [value for value in self.inapp_previous_signing_keys.values()]
        return [value.get_secret_value() for value in found if value.get_secret_value()]

    def inapp_signing_keys(self) -> SigningKeys | None:
        """The in-app token keys (current plus previous), or None when no secret is set."""
        if self.inapp_signing_secret is None:
            return None
        return SigningKeys.of(
            self.inapp_signing_secret, self.inapp_signing_key_id, dict(self.inapp_previous_signing_keys)
        )

    def as_dict(self) -> dict[str, object]:
        """Settings for logs and `nudgeflow config`: secrets stay hidden."""
        return self.model_dump(mode="json")
