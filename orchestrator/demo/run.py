"""Runs the demo: embedded broker, worker, in-app API with its page, and the story."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from nudgeflow.channels.inapp.feed import FeedEntry
from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.slack_server import SlackStandIn
from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.broker.embedded import free_port
from nudgeflow.orchestrator.demo.story import Story, StoryPlayer
from nudgeflow.orchestrator.runtime.shutdown import Shutdown, protect_stdout, wait_for_stop
from nudgeflow.orchestrator.runtime.worker import Worker
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules.contracts.prompts import Prompt
from nudgeflow.rules.loader import playbook_files


def _port_or_free(settings: Settings) -> Settings:
    """Keep the asked-for port if it is free, otherwise take any free one (a second demo still starts)."""
    import socket

    if settings.api_port:
        with socket.socket() as sock:
            try:
                sock.bind((settings.api_host, settings.api_port))
                return settings
            except OSError:
                pass
    return settings.model_copy(update={"api_port": free_port(settings.api_host)})


def _celebration_printer(console: Console, started: float) -> tuple[list[Prompt], Callable[[FeedEntry], None]]:
    seen: list[Prompt] = []

    def on_change(entry: FeedEntry) -> None:
        if entry.change != "created":
            return
        prompt = entry.prompt
        seen.append(prompt)
        icon = {"celebration": "🎉", "welcome": "👋"}.get(prompt.kind, "👉")
        console.print(
            f"[dim]{time.monotonic() - started:6.1f}s[/dim] {icon} [bold]{prompt.user_id}[/bold] "
            f"[green]{prompt.title}[/green] — {prompt.body}"
        )

    return seen, on_change


async def _print_provider_traffic(
    console: Console, sendgrid: SendGridStandIn, slack: SlackStandIn, started: float
) -> None:
    """The stand-ins record what the real clients sent; show each email and Slack post once."""
    shown_mail = shown_slack = 0
    while True:
        await asyncio.sleep(0.3)
        for mail in sendgrid.messages[shown_mail:]:
            to = mail["personalizations"][0]["to"][0]["email"]
            console.print(
                f"[dim]{time.monotonic() - started:6.1f}s[/dim] 📧 email to {to}: [cyan]{mail['subject']}[/cyan]"
            )
        for post in slack.messages[shown_slack:]:
            console.print(
                f"[dim]{time.monotonic() - started:6.1f}s[/dim] 💬 Slack {post.get('channel')}: "
                f"[magenta]{post.get('text')}[/magenta]"
            )
        shown_mail, shown_slack = len(sendgrid.messages), len(slack.messages)


async def run_demo(settings: Settings, console: Console, *, duration: float | None, trial_playbook: bool = True) -> int:
    """Until Ctrl-C/SIGTERM or `duration`; stops within 10 s of the signal in any state (shutdown.py).
    `trial_playbook`: add the demo's own playbook (a stall within seconds) to the rules."""
    protect_stdout()  # `nudgeflow demo | head` must not crash or hang when head exits
    shutdown = Shutdown().install()
    return await shutdown.run(_demo(settings, console, shutdown.stop, duration, trial_playbook))


async def _demo(
    settings: Settings, console: Console, stop: asyncio.Event, duration: float | None, trial_playbook: bool
) -> int:
    settings = _port_or_free(settings)
    started = time.monotonic()
    console.print(
        "[bold]Nudgeflow demo[/bold]: starting an embedded Tansu broker, SendGrid and Slack stand-ins and a worker…"
    )
    # Faust's data dir lives in a temporary folder: the demo leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="nudgeflow-demo-") as scratch:
        update: dict[str, object] = {"table_dir": Path(scratch) / "tables"}
        if trial_playbook:
            update["rules_path"] = demo_rules(settings.rules_path, Path(scratch) / "rules")
        return await _with_providers(settings.model_copy(update=update), console, started, stop, duration)


def demo_rules(rules: Path, folder: Path) -> Path:
    """The rules in force plus the demo's trial playbook (trial.yaml: a stall nudge after 15 s), in `folder`."""
    folder.mkdir(parents=True)
    for file in playbook_files(rules):
        target = folder / (file.relative_to(rules) if rules.is_dir() else file.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    trial = resources.files("nudgeflow.orchestrator.demo").joinpath("trial.yaml").read_text(encoding="utf-8")
    (folder / "demo-trial.yaml").write_text(trial, encoding="utf-8")
    return folder


async def _with_providers(
    settings: Settings, console: Console, started: float, stop: asyncio.Event, duration: float | None
) -> int:
    async with SendGridStandIn() as sendgrid, SlackStandIn() as slack:
        settings = settings.model_copy(
            update={
                "sendgrid_api_key": SecretStr("SG.demo"),
                "sendgrid_host": sendgrid.url,
                "slack_bot_token": SecretStr("xoxb-demo"),
                "slack_api_url": f"{slack.url}/api/",
                "slack_default_channel": "C-ONBOARDING",
            }
        )
        for user in Story.bundled().users[::2]:  # some users are in the Slack workspace: they get DMs
            slack.add_user(str(user.traits.get("email")), f"U{user.id.upper()}")
        traffic = asyncio.create_task(_print_provider_traffic(console, sendgrid, slack, started))
        try:
            return await _run(settings, console, started, stop, duration, (sendgrid, slack))
        finally:
            traffic.cancel()
            await asyncio.gather(traffic, return_exceptions=True)


async def _run(
    settings: Settings,
    console: Console,
    started: float,
    stop: asyncio.Event,
    duration: float | None,
    providers: tuple[SendGridStandIn, SlackStandIn],
) -> int:
    async with Worker(settings, demo_page=True) as worker:
        prompts, printer = _celebration_printer(console, started)
        worker.inbox_feed.subscribe(printer)
        ready_task = asyncio.ensure_future(worker.wait_ready(timeout=120))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({ready_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not ready_task.done():  # stopped while starting: nothing to summarise
            ready_task.cancel()
            console.print("demo stopped before the worker was ready.")
            return 0
        ready = ready_task.result()
        console.print(
            f"broker {worker.bootstrap_servers} · worker ready in {ready:.1f}s · "
            f"open [link={worker.api_url}]{worker.api_url}[/link] to see each user's prompts · Ctrl-C stops"
        )
        producer = AIOKafkaProducer(**aiokafka_options(worker.settings, worker.bootstrap_servers))
        await producer.start()
        assert worker.api_url is not None, "the demo always runs the in-app API"
        clicker = _Clicker(worker.api_url, prompts, console, started)
        player = StoryPlayer(Story.bundled(), producer, worker.settings.events_topic, clicker=clicker.click)
        tasks = [asyncio.create_task(player.play()), asyncio.create_task(player.background())]
        try:
            await wait_for_stop(stop, duration)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await producer.stop()
        _summary(console, worker, player, prompts, providers, time.monotonic() - started - ready)
    console.print("demo stopped; broker and worker shut down.")
    return 0


class _Clicker:
    """Follows a prompt's link as the product's front end would: a token for the user (the demo's
    stand-in for the product's backend), then the in-app API's status change with the link, which
    records the click (a `link_clicked` outcome for analytics)."""

    PATIENCE_SECONDS = 10.0

    def __init__(self, api_url: str, seen: list[Prompt], console: Console, started: float) -> None:
        self.api_url, self.seen, self.console, self.started = api_url, seen, console, started

    async def click(self, user: str, kind: str, link: str) -> bool:
        prompt = await self._newest(user, kind)
        target = prompt.link_at(link) if prompt is not None else None
        if prompt is None or target is None:
            self.console.print(f"[dim]no {kind} prompt with a {link} link for {user} to click[/dim]")
            return False
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10) as client:
            token = (await client.get(f"/v1/demo/users/{user}/token")).json()["token"]
            answer = await client.post(
                f"/v1/users/{user}/prompts/{prompt.delivery_id}/status",
                json={"status": "clicked", "link": link},
                headers={"Authorization": f"Bearer {token}"},
            )
        if answer.status_code != 200:
            self.console.print(f"[red]click on {user}'s prompt refused: {answer.status_code} {answer.text[:200]}[/red]")
            return False
        self.console.print(
            f"[dim]{time.monotonic() - self.started:6.1f}s[/dim] 🖱  [bold]{user}[/bold] clicked "
            f"[green]{target.label}[/green] on “{prompt.title}” → {target.url}"
        )
        return True

    async def _newest(self, user: str, kind: str) -> Prompt | None:
        """The newest prompt of that kind the user got, waiting a little for one still on its way."""
        deadline = time.monotonic() + self.PATIENCE_SECONDS
        while True:
            found = [p for p in self.seen if p.user_id == user and p.kind == kind]
            if found or time.monotonic() > deadline:
                return found[-1] if found else None
            await asyncio.sleep(0.2)


def _summary(
    console: Console,
    worker: Worker,
    player: StoryPlayer,
    prompts: list[Prompt],
    providers: tuple[SendGridStandIn, SlackStandIn],
    seconds: float,
) -> None:
    stats = worker.nudgeflow.stats if worker.nudgeflow else None
    ingest = worker.ingest.counts if worker.ingest else None  # invalid records are parked there, before the rules
    table = Table(title="Demo summary")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("story events published", str(player.stats.story_events))
    table.add_row("background events published", str(player.stats.background_events))
    if stats is not None:
        table.add_row("events processed", str(stats.processed))
        table.add_row("events/s processed (since ready)", f"{stats.processed / max(seconds, 1e-9):.0f}")
        table.add_row("duplicates dropped", str(stats.duplicates))
        parked_early = ingest.dead_lettered if ingest else 0
        table.add_row("dead-lettered", str(stats.dead_lettered + parked_early))
    if ingest is not None:
        table.add_row("noise dropped before the rules (pre-filter)", str(ingest.filtered))
    table.add_row("in-app prompts delivered", str(len(prompts)))
    table.add_row("prompt buttons clicked (recorded as link_clicked)", str(player.stats.clicks))
    table.add_row("emails sent (SendGrid stand-in)", str(len(providers[0].messages)))
    table.add_row("Slack messages posted (stand-in)", str(len(providers[1].messages)))
    console.print(table)
