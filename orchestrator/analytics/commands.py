"""What `nudgeflow report`, `dashboard` and `digest` run; orchestrator/cli.py imports this
lazily so `nudgeflow --help` stays fast."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console

from nudgeflow.orchestrator.analytics import store
from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.results import Filter, ValueEvents
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules import load_ruleset
from nudgeflow.rules.loader import playbook_files
from nudgeflow.rules.problems import RulesetError
from nudgeflow.rules.schema import Playbook

EXAMPLES = Path(__file__).resolve().parents[2] / "playbooks"  # the repository's example playbooks


class AnalyticsSettings(BaseSettings):
    """`NUDGEFLOW_ANALYTICS_*`: the DuckDB file the ingester writes and `--db` reads."""

    model_config = SettingsConfigDict(env_prefix="NUDGEFLOW_ANALYTICS_", env_file=".env", extra="ignore")

    db: Path = Field(default=Path("nudgeflow-analytics.duckdb"), description="DuckDB file of events and outcomes.")
    flush_rows: int = Field(default=50_000, ge=1, description="Ingester: commit after this many records...")
    flush_seconds: float = Field(default=1.0, gt=0, description="...or this long after the first one.")
    snapshot_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Ingester: when caught up, keep the reports' per-user tables in the file at most this often.",
    )
    expansion_events: str = Field(
        default="Seats Added,Plan Upgraded",
        description="Comma-separated track events that mean an account grew (the expansion metric).",
    )
    advocacy_events: str = Field(
        default="Referral Sent,NPS Promoter",
        description="Comma-separated track events that mean a user recommends the product (advocacy): send the "
        "NPS answer as its own event, e.g. `NPS Promoter` for a score of 9 or 10.",
    )

    def value_events(self) -> ValueEvents:
        def names(text: str) -> list[str]:
            return [name.strip() for name in text.split(",") if name.strip()]

        return ValueEvents(expansion=names(self.expansion_events), advocacy=names(self.advocacy_events))


class DigestSettings(BaseSettings):
    """`NUDGEFLOW_DIGEST_*`: when the digest goes out and where."""

    model_config = SettingsConfigDict(env_prefix="NUDGEFLOW_DIGEST_", env_file=".env", extra="ignore")

    cron: str = Field(default="0 9 * * mon", description="Crontab: minute hour day month weekday.")
    timezone: str = "UTC"
    slack_token: SecretStr | None = None
    slack_base_url: str = "https://slack.com/api/"
    slack_channel: str | None = Field(default=None, description="Channel id or name to post to, e.g. C0CS.")
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    email_from: str | None = None
    email_to: str = Field(default="", description="Comma-separated recipients.")

    def recipients(self) -> list[str]:
        return [e.strip() for e in self.email_to.split(",") if e.strip()]


def rules_folder(settings: Settings, rules: Path | None, sample_dir: Path | None = None) -> Path:
    """`--rules`, else the playbooks a sample folder carries, else NUDGEFLOW_RULES_PATH, else (for
    a checkout used from another folder) the repository's example playbooks."""
    if rules is not None:
        return rules
    candidates = [sample_dir / "playbooks"] if sample_dir is not None else []
    candidates += [settings.rules_path, EXAMPLES]
    return next((c for c in candidates if c.exists()), settings.rules_path)


def load_playbooks(settings: Settings, rules: Path | None, sample_dir: Path | None = None) -> list[Playbook]:
    return list(load_ruleset(rules_folder(settings, rules, sample_dir)).playbooks)


async def load(
    settings: Settings,
    rules: Path | None = None,
    *,
    events: Path | None = None,
    outcomes: Path | None = None,
    sample: bool = False,
    from_dir: Path | None = None,
    db: Path | None = None,
    engine: str = "duckdb",
    clickhouse: str | None = None,
) -> OnboardingAnalytics:
    """From a ClickHouse server, the ingester's DuckDB file, a sample folder (on DuckDB or embedded
    ClickHouse), JSONL files, the built-in sample history, or by replaying the topics."""
    playbooks = load_playbooks(settings, rules, from_dir)
    value_events = AnalyticsSettings().value_events()
    if clickhouse is not None:
        from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine

        return OnboardingAnalytics(playbooks, ClickHouseEngine.on_server(clickhouse), value_events)
    if from_dir is not None and engine == "clickhouse":
        from nudgeflow.orchestrator.analytics.clickhouse.folder import open_folder as open_on_clickhouse

        return OnboardingAnalytics(playbooks, open_on_clickhouse(from_dir), value_events)
    if db is not None:
        from nudgeflow.orchestrator.analytics.ingest import open_when_free

        return OnboardingAnalytics(playbooks, open_when_free(db, read_only=True), value_events)
    if from_dir is not None:
        from nudgeflow.orchestrator.analytics.folder import open_folder

        return OnboardingAnalytics(playbooks, open_folder(from_dir), value_events)
    analytics = OnboardingAnalytics(playbooks, value_events=value_events)
    if sample:
        from nudgeflow.orchestrator.analytics.sample import generate

        analytics.add_all(*generate(playbooks))
    elif events is not None or outcomes is not None:
        store.add_files(analytics.connection, events, outcomes)
    else:
        from nudgeflow.orchestrator.analytics.source import kafka_settings, replay

        await replay(analytics, **kafka_settings(settings))
    return analytics


def _need_broker(settings: Settings, console: Console, *, offline: bool) -> None:
    if not offline and settings.uses_embedded_broker():
        console.print(
            "[red]Set NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS to the broker the worker uses (or use --sample).[/red]"
        )
        raise SystemExit(2)


def run_report(flt: Filter, fmt: str, out: Path | None, console: Console, **source: object) -> None:
    from nudgeflow.orchestrator.analytics.report import export, render

    settings = Settings()
    offline = ("events", "outcomes", "sample", "from_dir", "db", "clickhouse")
    _need_broker(settings, console, offline=any(source.get(k) for k in offline))
    from_dir, db = source.get("from_dir"), source.get("db")
    if isinstance(from_dir, Path) and not from_dir.is_dir():
        console.print(f"[red]--from {from_dir}: no such folder (make one with `nudgeflow sample`).[/red]")
        raise SystemExit(2)
    if isinstance(db, Path) and not db.is_file():
        console.print(f"[red]--db {db}: no such file (`nudgeflow analytics ingest` writes it).[/red]")
        raise SystemExit(2)
    try:
        analytics = asyncio.run(load(settings, **source))  # type: ignore[arg-type]
        try:
            report = analytics.report(flt)
        finally:
            analytics.close()
    except RulesetError as exc:
        console.print(f"[red]{exc}[/red]\nPass --rules with your playbooks folder.")
        raise SystemExit(2) from exc
    if fmt == "table":
        render(report, console)
        return
    for path in export(report, fmt, out):
        console.print(f"wrote {path}")


def run_sample(users: int, out: Path, console: Console, *, rules: Path | None, weeks: int, seed: int) -> None:
    """Write a sample folder: events.jsonl, outcomes.jsonl and the playbooks they follow."""
    from nudgeflow.orchestrator.analytics.sample import write_sample

    folder = rules_folder(Settings(), rules)
    try:
        ruleset = load_ruleset(folder)
    except RulesetError as exc:
        console.print(f"[red]{exc}[/red]\nPass --rules with your playbooks folder.")
        raise SystemExit(2) from exc
    sources = [str(f) for f in playbook_files(folder)]
    events, outcomes = write_sample(list(ruleset.playbooks), out, users, weeks=weeks, seed=seed, sources=sources)
    console.print(f"wrote {events} events and {outcomes} outcomes for {users} users to {out}")


def run_ingest(console: Console, db: Path | None = None, clickhouse: str | None = None) -> None:
    """Follow both topics into the DuckDB file (or a ClickHouse server) until SIGINT/SIGTERM (then flush and stop)."""
    import signal

    from nudgeflow.orchestrator.analytics.ingest import Ingester, Sink, print_progress
    from nudgeflow.orchestrator.analytics.source import kafka_settings

    settings, config = Settings(), AnalyticsSettings()
    _need_broker(settings, console, offline=False)
    topics = kafka_settings(settings)
    target: Path | Sink = db or config.db
    if clickhouse is not None:
        from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine
        from nudgeflow.orchestrator.analytics.clickhouse.sink import ClickHouseSink

        target = ClickHouseSink(ClickHouseEngine.on_server(clickhouse))
    ingester = Ingester(
        target,
        flush_rows=config.flush_rows,
        flush_seconds=config.flush_seconds,
        snapshot_seconds=config.snapshot_seconds,
        on_flush=print_progress,
        **topics,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, ingester.stop)
        await ingester.run()

    into = "ClickHouse" if clickhouse is not None else db or config.db
    console.print(f"ingesting {topics['events_topic']} and {topics['outcomes_topic']} into {into}")
    asyncio.run(main())


def run_dashboard(
    host: str,
    port: int,
    console: Console,
    rules: Path | None = None,
    sample: bool = False,
    db: Path | None = None,
    clickhouse: str | None = None,
) -> None:
    """Serve the dashboard: from the ingester's file (`db`, opened per request), following the topics
    live, or on the sample history."""
    import uvicorn

    from nudgeflow.orchestrator.analytics.dashboard import create_app
    from nudgeflow.orchestrator.analytics.source import TopicFeed, kafka_settings

    settings = Settings()
    _need_broker(settings, console, offline=sample or db is not None or clickhouse is not None)
    playbooks = load_playbooks(settings, rules)
    value_events = AnalyticsSettings().value_events()
    if clickhouse is not None:
        from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine

        console.print(f"Nudgeflow dashboard on http://{host}:{port} (reading ClickHouse)")
        app = create_app(lambda: OnboardingAnalytics(playbooks, ClickHouseEngine.on_server(clickhouse), value_events))
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    if db is not None:
        from nudgeflow.orchestrator.analytics.ingest import open_when_free

        console.print(f"Nudgeflow dashboard on http://{host}:{port} (reading {db})")
        app = create_app(lambda: OnboardingAnalytics(playbooks, open_when_free(db, read_only=True), value_events))
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    analytics = OnboardingAnalytics(playbooks, value_events=value_events)
    feed = None
    if sample:
        from nudgeflow.orchestrator.analytics.sample import generate

        analytics.add_all(*generate(analytics.playbooks))
    else:
        feed = TopicFeed(analytics, **kafka_settings(settings))
    console.print(f"Nudgeflow dashboard on http://{host}:{port}")
    uvicorn.run(create_app(analytics, feed), host=host, port=port, log_level="warning", log_config=None)


def digest_channels(config: DigestSettings) -> dict[str, object]:
    from nudgeflow.channels import SendGridEmailChannel, SlackChannel

    channels: dict[str, object] = {}
    if config.slack_token and config.slack_channel:
        channels["slack"] = SlackChannel(config.slack_token.get_secret_value(), base_url=config.slack_base_url)
    if config.sendgrid_api_key and config.email_from and config.recipients():
        channels["email"] = SendGridEmailChannel(
            config.sendgrid_api_key.get_secret_value(), config.email_from, host=config.sendgrid_host
        )
    return channels


async def run_digest(
    console: Console,
    *,
    once: bool,
    rules: Path | None = None,
    sample: bool = False,
    db: Path | None = None,
    clickhouse: str | None = None,
) -> None:
    """Send now (`once`) or on the configured cron; without channels, print the digest."""
    from nudgeflow.orchestrator.analytics.digest import DigestJob, schedule

    config = DigestSettings()
    channels = digest_channels(config)
    from nudgeflow.orchestrator.analytics.sample import END

    job = DigestJob(
        lambda: load(Settings(), rules, sample=sample, db=db, clickhouse=clickhouse),
        channels,  # type: ignore[arg-type]
        slack_channel=config.slack_channel,
        emails=config.recipients(),
    )
    if sample:  # the sample history ends at a fixed date: report the week it ends
        job.clock = lambda: END
    if once:
        digest = await job.run()
        console.print(f"[bold]{digest.title}[/bold]\n{digest.text}")
        for message, result in job.sent:
            console.print(f"{message.channel} {message.slack_channel or message.to_email}: {result.status}")
        return
    scheduler = schedule(job, config.cron, config.timezone)
    scheduler.start()
    console.print(
        f"digest scheduled '{config.cron}' ({config.timezone}) on {', '.join(channels) or 'no channel'}; "
        f"next: {scheduler.get_job('weekly-digest').next_run_time}"
    )
    try:
        await asyncio.Event().wait()
    finally:
        scheduler.shutdown(wait=False)


def run_clickhouse_schema() -> None:
    """The tables, then a Kafka engine table and materialized view per topic (docs/deploy.md)."""
    from nudgeflow.orchestrator.analytics.clickhouse import schema

    settings = Settings()
    statements = schema.table_statements()
    brokers = settings.kafka_bootstrap_servers or "localhost:9092"
    for table, topic in (("events", settings.events_topic), ("outcomes", settings.outcomes_topic)):
        statements += schema.kafka_ingest_sql(
            table, brokers=brokers, topic=topic, group=f"{settings.app_id}-clickhouse"
        )
    print(";\n\n".join(statements) + ";")
