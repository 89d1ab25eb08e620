"""`nudgeflow deliveries failed` and `nudgeflow deliveries retry`: inspect and replay dead letters."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nudgeflow.orchestrator.settings import Settings

deliveries_app = typer.Typer(help="Email/Slack deliveries the outbox gave up on.", no_args_is_help=True)
console = Console(soft_wrap=True)  # never break a file path or an error across lines


def _bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap_servers:
        console.print("[red]Set NUDGEFLOW_KAFKA_BOOTSTRAP_SERVERS to the broker the worker uses.[/red]")
        raise typer.Exit(2)
    return settings.kafka_bootstrap_servers


@deliveries_app.command("failed")
def failed(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
) -> None:
    """List dead-lettered deliveries (failed for good, or out of retries) with their reason."""
    from nudgeflow.orchestrator.outbox.dead_letters import read_dead_letters

    settings = Settings()
    letters = asyncio.run(read_dead_letters(settings, _bootstrap(settings)))
    if as_json:
        for letter in letters:
            print(json.dumps(letter.model_dump(mode="json", exclude={"request", "type"})))
        return
    if not letters:
        console.print("No failed deliveries.")
        return
    table = Table("delivery id", "user", "channel", "status", "attempts", "finished at", "reason")
    for letter in letters:
        channel = letter.request.channel if letter.request else "?"
        finished = letter.finished_at.isoformat(timespec="seconds") if letter.finished_at else ""
        table.add_row(
            letter.delivery_id,
            letter.user_id,
            channel,
            letter.status,
            str(letter.attempts),
            finished,
            letter.reason or "",
        )
    console.print(table)


@deliveries_app.command("retry")
def retry(
    delivery_id: Annotated[str | None, typer.Argument(help="The delivery to send again.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every failed delivery.")] = False,
) -> None:
    """Send dead-lettered deliveries again, with a fresh retry window (their expiry no longer applies)."""
    from nudgeflow.orchestrator.outbox.dead_letters import read_dead_letters, request_replays

    if (delivery_id is None) == (not all_):
        raise typer.BadParameter("give one delivery id, or --all")
    settings = Settings()
    bootstrap = _bootstrap(settings)
    letters = asyncio.run(read_dead_letters(settings, bootstrap))
    chosen = letters if all_ else [letter for letter in letters if letter.delivery_id == delivery_id]
    if delivery_id is not None and not chosen:
        console.print(f"[red]{delivery_id} is not a failed delivery (see `nudgeflow deliveries failed`).[/red]")
        raise typer.Exit(1)
    count = asyncio.run(request_replays(settings, bootstrap, chosen))
    console.print(f"replay requested for {count} deliver{'y' if count == 1 else 'ies'}")
