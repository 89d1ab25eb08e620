"""`nudgeflow`: the one command-line entry point."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from nudgeflow.orchestrator.outbox.commands import deliveries_app
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules import RulesetError

app = typer.Typer(
    help="Nudgeflow: onboarding nudges and celebrations from your product's event stream.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Validate playbooks.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics Nudgeflow needs.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(topics_app, name="topics")
inapp_app = typer.Typer(help="In-app channel helpers.", no_args_is_help=True)
app.add_typer(inapp_app, name="inapp")
app.add_typer(deliveries_app, name="deliveries")
console = Console(soft_wrap=True)  # never break a file path or an error across lines


def _setup_logging(settings: Settings, *, level: str | None = None, json: bool | None = None) -> None:
    from nudgeflow.orchestrator.logs import configure_logging

    configure_logging(
        level or settings.log_level,
        json=settings.log_format == "json" if json is None else json,
        secrets=settings.secret_values(),
    )


@app.command()
def worker(
    rules: Annotated[Path | None, typer.Option(help="Playbook file or folder (default: NUDGEFLOW_RULES_PATH).")] = None,
    api: Annotated[bool, typer.Option(help="Serve the in-app API from this process.")] = True,
) -> None:
    """Run the stream processor against NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS, or an embedded broker."""
    from nudgeflow.orchestrator.runtime.serve import serve_worker
    from nudgeflow.orchestrator.topics import TopicLayoutError

    overrides: dict[str, Any] = {"run_api": api}
    if rules is not None:
        overrides["rules_path"] = rules
    settings = Settings(**overrides)
    _setup_logging(settings)
    try:
        code = asyncio.run(serve_worker(settings, console))
    except RulesetError as exc:  # a user mistake: plain words, no traceback
        console.print(f"[red]Cannot start: the playbooks at {settings.rules_path} are not valid.[/red]\n{exc}")
        raise typer.Exit(1) from None
    except TopicLayoutError as exc:  # an operator's mistake: plain words, no traceback
        console.print(f"[red]Cannot start:[/red] {exc}")
        raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the demo page and in-app API (0: any free port).")] = 8080,
) -> None:
    """Embedded broker + worker + in-app API + a simulated onboarding story, all in one process."""
    from nudgeflow.orchestrator.demo.run import run_demo

    examples = Path(__file__).resolve().parent.parent / "playbooks"  # the repository's example playbooks
    settings = Settings(api_port=port, kafka_bootstrap_servers=None)
    own_rules = "NUDGEFLOW_RULES_PATH" in os.environ
    if not own_rules and examples.is_dir():
        settings = settings.model_copy(update={"rules_path": examples})
    _setup_logging(settings, level="WARNING", json=False)
    raise typer.Exit(asyncio.run(run_demo(settings, console, duration=duration, trial_playbook=not own_rules)))


@app.command()
def send(
    kind: Annotated[str, typer.Argument(help="track or identify")],
    user: Annotated[str, typer.Option("--user", "-u", help="userId (also the Kafka key)")],
    event: Annotated[str | None, typer.Option("--event", "-e", help="Event name, for track")] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--prop", "-p", help="key=value (JSON values allowed), repeatable")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="context.timezone, e.g. Europe/Paris")] = None,
) -> None:
    """Publish one track or identify event (properties/traits via --prop key=value)."""
    from nudgeflow.orchestrator.producer import identify, track
    from nudgeflow.orchestrator.send import send_event
    from nudgeflow.rules.contracts.events import IdentifyEvent, TrackEvent

    values = dict(_parse_pair(item) for item in prop or [])
    built: TrackEvent | IdentifyEvent
    if kind == "track":
        if not event:
            raise typer.BadParameter("track needs --event")
        built = track(user, event, values, timezone=timezone)
    elif kind == "identify":
        built = identify(user, values, timezone=timezone)
    else:
        raise typer.BadParameter("kind must be track or identify")
    settings = Settings()
    if settings.uses_embedded_broker():
        console.print("[red]Set NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS to the broker the worker uses.[/red]")
        raise typer.Exit(2)
    asyncio.run(send_event(settings, built))
    console.print(f"sent {built.type} {built.messageId} for {user} to {settings.events_topic}")


def _parse_pair(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{item!r}: use key=value")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


@app.command("schema")
def schema(
    topic: Annotated[
        str,
        typer.Argument(
            help="events, prompts, deliveries, outbox, outcomes, dead_letters, timers, preferences, users, relay "
            "or account_table",
            show_default=False,
        ),
    ],
) -> None:
    """Print the JSON Schema of one topic's records (docs/contracts.md)."""
    from nudgeflow.rules.contracts.catalog import UnknownContract, contract_for

    try:
        contract = contract_for(topic)
    except UnknownContract as exc:
        raise typer.BadParameter(str(exc), param_hint="TOPIC") from None
    print(json.dumps(contract.json_schema(), indent=2))


@rules_app.command("check")
def rules_check(
    path: Annotated[Path, typer.Argument(help="Playbook file or folder")],
    catalog: Annotated[
        Path | None,
        typer.Option(help="Event catalog (YAML: events with their properties) the playbooks' event names must be in"),
    ] = None,
    warn_only: Annotated[bool, typer.Option(help="Report unknown event names without failing the check")] = False,
) -> None:
    """Validate playbooks: every problem with file, line and field. Exit code 0 when all are valid."""
    from nudgeflow.rules.check import run_check

    raise typer.Exit(run_check(path, console, catalog=catalog, warn_only=warn_only))


@app.command("preview")
def preview_command(
    rules: Annotated[Path, typer.Option(help="Playbook file or folder")],
    playbook: Annotated[str, typer.Argument(help="Playbook id")],
    message: Annotated[
        str | None,
        typer.Argument(
            help="Message path as `rules check` prints it, e.g. milestones[0].celebrate[1] (none: list them)"
        ),
    ] = None,
    trait: Annotated[list[str] | None, typer.Option("--trait", "-t", help="User trait key=value, repeatable")] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--prop", "-p", help="Property key=value of the triggering event, repeatable")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the email HTML and the Slack blocks")] = Path("preview"),
) -> None:
    """Render one message as each channel shows it: the in-app card here, email HTML and Slack blocks to files."""
    from nudgeflow.orchestrator.preview import PreviewError, messages_of, preview
    from nudgeflow.rules import RulesetError, load_ruleset

    try:
        ruleset = load_ruleset(rules)
    except RulesetError as exc:
        console.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    found = ruleset.playbook(playbook)
    if found is None:
        known = ", ".join(p.id for p in ruleset.playbooks)
        raise typer.BadParameter(f"no playbook '{playbook}'; the rules hold: {known}", param_hint="PLAYBOOK")
    if message is None:
        for located in messages_of(found):
            console.print(
                f"{located.path}  [dim]{located.kind} · {located.message.channel}[/dim]  {located.message.title}"
            )
        raise typer.Exit(0)
    traits = dict(_parse_pair(item) for item in trait or [])
    properties = dict(_parse_pair(item) for item in prop or [])
    try:
        code = preview(found, message, traits=traits, properties=properties, out=out, console=console)
    except PreviewError as exc:
        raise typer.BadParameter(str(exc), param_hint="MESSAGE") from None
    raise typer.Exit(code)


@app.command()
def simulate(
    rules: Annotated[Path, typer.Option(help="Playbook file or folder")],
    events: Annotated[Path, typer.Option(help="Segment-spec events, one JSON object per line")],
    until: Annotated[datetime | None, typer.Option(help="Run the virtual clock up to this time (ISO 8601)")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder to write events.jsonl, outcomes.jsonl (what `nudgeflow report --from` reads), "
            "decisions.jsonl and a copy of the playbooks (default: write nothing)"
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Print this user's timeline (events, completions, stalls, sends) instead")
    ] = None,
) -> None:
    """Preview a playbook change: the worker's pipeline on a virtual clock over recorded events, deterministic."""
    from nudgeflow.orchestrator.simulate_cli import run_simulate

    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    raise typer.Exit(run_simulate(rules, events, until, out, console, user=user))


@topics_app.command("create")
def topics_create() -> None:
    """Create the topics Nudgeflow needs on NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS."""
    from nudgeflow.orchestrator.broker.clients import aiokafka_options
    from nudgeflow.orchestrator.topics import TopicLayoutError, ensure_topics

    settings = Settings()
    if settings.uses_embedded_broker():
        console.print("[red]Set NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS first.[/red]")
        raise typer.Exit(2)
    assert settings.kafka_bootstrap_servers
    try:
        created = asyncio.run(ensure_topics(settings, aiokafka_options(settings, settings.kafka_bootstrap_servers)))
    except TopicLayoutError as exc:
        console.print(f"[red]Topics don't fit this deployment:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"created: {', '.join(created) or 'nothing (all exist)'}")


@topics_app.command("list")
def topics_list() -> None:
    """The topics, partitions and cleanup policies Nudgeflow needs."""
    from rich.table import Table

    from nudgeflow.orchestrator.topics import topic_specs

    table = Table("topic", "partitions", "configs", "purpose")
    for spec in topic_specs(Settings()):
        table.add_row(
            spec.name, str(spec.partitions), ", ".join(f"{k}={v}" for k, v in spec.configs.items()), spec.purpose
        )
    console.print(table)


@inapp_app.command("token")
def inapp_token(
    user: Annotated[str, typer.Argument(help="userId the token is for")],
    ttl: Annotated[float, typer.Option(help="Seconds until it expires")] = 3600.0,
) -> None:
    """Mint an in-app API token (a JWT signed with NUDGEFLOW_INAPP_SIGNING_SECRET), as the product's backend would."""
    from nudgeflow.channels.inapp.auth import issue_token

    keys = Settings().inapp_signing_keys()
    if keys is None:
        console.print("[red]Set NUDGEFLOW_INAPP_SIGNING_SECRET (the key the workers use).[/red]")
        raise typer.Exit(2)
    print(issue_token(keys, user, ttl))


@app.command()
def config() -> None:
    """Print the settings in force (secrets hidden)."""
    print(json.dumps(Settings().as_dict(), indent=2))


# --- analytics (issue #5): report, dashboard, digest; imports stay inside the commands ---

ClickHouseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="NUDGEFLOW_ANALYTICS_CLICKHOUSE_URL",
        help="Read a ClickHouse server's tables instead (docs/deploy.md), e.g. http://user:pw@host:8123/nudgeflow",
    ),
]


@app.command()
def report(
    playbook: Annotated[str | None, typer.Option(help="Only this playbook id.")] = None,
    role: Annotated[str | None, typer.Option(help="Only users with this role trait.")] = None,
    since: Annotated[str | None, typer.Option(help="Signed up on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Signed up on or before this date (YYYY-MM-DD).")] = None,
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    out: Annotated[Path | None, typer.Option(help="json: file; csv: folder of <metric>.csv (default: stdout)")] = None,
    rules: Annotated[Path | None, typer.Option(help="Playbooks (default: NUDGEFLOW_RULES_PATH).")] = None,
    events: Annotated[Path | None, typer.Option(help="Read events from this JSONL file instead of Kafka.")] = None,
    outcomes: Annotated[Path | None, typer.Option(help="Read outcomes from this JSONL file instead of Kafka.")] = None,
    sample: Annotated[bool, typer.Option(help="Use the built-in sample history.")] = False,
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="Read a folder written by `nudgeflow sample` (no broker).")
    ] = None,
    db: Annotated[Path | None, typer.Option(help="Read the DuckDB file `nudgeflow analytics ingest` keeps.")] = None,
    engine: Annotated[
        str, typer.Option(help="With --from: duckdb (default) or clickhouse (embedded, chdb; the scale option).")
    ] = "duckdb",
    clickhouse: ClickHouseUrl = None,
) -> None:
    """Onboarding metrics and experiment results, replayed from the topics (or files)."""
    from nudgeflow.orchestrator.analytics.commands import run_report
    from nudgeflow.orchestrator.analytics.results import Filter

    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    if engine not in ("duckdb", "clickhouse"):
        raise typer.BadParameter("--engine must be duckdb or clickhouse")
    if engine == "clickhouse" and from_dir is None:
        raise typer.BadParameter("--engine clickhouse reads a --from folder; for a server, use --clickhouse URL")
    flt = Filter(playbook=playbook, role=role, signup_from=since, signup_to=until)
    run_report(
        flt,
        format,
        out,
        console,
        rules=rules,
        events=events,
        outcomes=outcomes,
        sample=sample,
        from_dir=from_dir,
        db=db,
        engine=engine,
        clickhouse=clickhouse,
    )


@app.command("sample")
def sample_history(
    users: Annotated[int, typer.Option(min=1, help="How many users sign up.")],
    out: Annotated[Path, typer.Option(help="Folder for events.jsonl, outcomes.jsonl and the playbooks.")],
    rules: Annotated[Path | None, typer.Option(help="Playbooks (default: NUDGEFLOW_RULES_PATH).")] = None,
    weeks: Annotated[int, typer.Option(min=1, help="Signups spread over this many weeks.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same files.")] = 42,
) -> None:
    """Write a realistic onboarding history for the playbooks (streamed: any number of users)."""
    from nudgeflow.orchestrator.analytics.commands import run_sample

    run_sample(users, out, console, rules=rules, weeks=weeks, seed=seed)


events_app = typer.Typer(help="Event names: the rules' against the stream's.", no_args_is_help=True)
app.add_typer(events_app, name="events")


@events_app.command("unknown")
def events_unknown(
    rules: Annotated[Path, typer.Option(help="Playbook file or folder")],
    db: Annotated[Path | None, typer.Option(help="The DuckDB file `nudgeflow analytics ingest` keeps.")] = None,
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="A folder written by `nudgeflow sample` or `simulate --out`.")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Look at the stream's last N days (up to its newest event).")] = 7,
) -> None:
    """Event names the rules wait for that the stream has not carried, and stream events that look like
    misspellings of them. Exit code 1 when there are any."""
    from nudgeflow.orchestrator.analytics.event_names import event_name_report, newest_event
    from nudgeflow.orchestrator.analytics.folder import open_folder
    from nudgeflow.orchestrator.analytics.ingest import open_when_free
    from nudgeflow.rules import RulesetError, load_ruleset

    if (db is None) == (from_dir is None):
        raise typer.BadParameter("give --db or --from")
    try:
        ruleset = load_ruleset(rules)
    except RulesetError as exc:
        console.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    connection = open_folder(from_dir) if from_dir is not None else open_when_free(db, read_only=True)  # type: ignore[arg-type]
    with connection:
        until = newest_event(connection)
        if until is None:
            console.print("no events in the analytics data yet")
            raise typer.Exit(1)
        report = event_name_report(connection, ruleset, days=days, until=until)
    window = f"{report.since:%Y-%m-%d %H:%M} – {report.until:%Y-%m-%d %H:%M} UTC"
    for unseen in report.unseen:
        console.print(f"[red]not seen[/red] '{unseen.event}' in {window}; waited for by {', '.join(unseen.used_by)}")
    for lookalike in report.lookalikes:
        console.print(
            f"[yellow]looks like a misspelling[/yellow] '{lookalike.seen}' ({lookalike.count} events) "
            f"of '{lookalike.referenced}', which the rules wait for"
        )
    if report.clean:
        console.print(f"every event name the rules wait for was seen in {window}")
    raise typer.Exit(0 if report.clean else 1)


analytics_app = typer.Typer(help="Analytics database: keep it up to date from the topics.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")


@analytics_app.command("ingest")
def analytics_ingest(
    db: Annotated[Path | None, typer.Option(help="DuckDB file (default: NUDGEFLOW_ANALYTICS_DB).")] = None,
    clickhouse: ClickHouseUrl = None,
) -> None:
    """Follow the events and outcomes topics into a DuckDB file (or a ClickHouse server), each record once
    (a process beside the worker)."""
    from nudgeflow.orchestrator.analytics.commands import run_ingest

    run_ingest(console, db, clickhouse)


@analytics_app.command("clickhouse-schema")
def analytics_clickhouse_schema() -> None:
    """Print the SQL that sets up a ClickHouse server for analytics: the tables, and Kafka engine tables
    that read the events and outcomes topics into them (NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS, topic names)."""
    from nudgeflow.orchestrator.analytics.commands import run_clickhouse_schema

    run_clickhouse_schema()


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8090,
    rules: Annotated[Path | None, typer.Option(help="Playbooks (default: NUDGEFLOW_RULES_PATH).")] = None,
    sample: Annotated[bool, typer.Option(help="Show the built-in sample history instead of the topics.")] = False,
    db: Annotated[Path | None, typer.Option(help="Read the DuckDB file `nudgeflow analytics ingest` keeps.")] = None,
    clickhouse: ClickHouseUrl = None,
) -> None:
    """Serve the analytics dashboard, following the outcomes and events topics."""
    from nudgeflow.orchestrator.analytics.commands import run_dashboard

    run_dashboard(host, port, console, rules=rules, sample=sample, db=db, clickhouse=clickhouse)


@app.command()
def digest(
    once: Annotated[bool, typer.Option(help="Build and send the digest now, then exit.")] = False,
    rules: Annotated[Path | None, typer.Option(help="Playbooks (default: NUDGEFLOW_RULES_PATH).")] = None,
    sample: Annotated[bool, typer.Option(help="Use the built-in sample history.")] = False,
    db: Annotated[Path | None, typer.Option(help="Read the DuckDB file `nudgeflow analytics ingest` keeps.")] = None,
    clickhouse: ClickHouseUrl = None,
) -> None:
    """Weekly stakeholder digest to Slack/email on NUDGEFLOW_DIGEST_CRON (NUDGEFLOW_DIGEST_* settings)."""
    from nudgeflow.orchestrator.analytics.commands import run_digest

    asyncio.run(run_digest(console, once=once, rules=rules, sample=sample, db=db, clickhouse=clickhouse))


def main() -> None:
    app()
