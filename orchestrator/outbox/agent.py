"""The outbox agent: deliveries topic → outbox table → background sends → results."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust

from nudgeflow.channels.outbox import Attempt
from nudgeflow.channels.preferences.store import Allows, allow_all
from nudgeflow.orchestrator import metrics
from nudgeflow.orchestrator.outbox.clock import Clock, SystemClock
from nudgeflow.orchestrator.outbox.ledger import OutboxLedger
from nudgeflow.orchestrator.outbox.providers import (
    PROVIDER_NAMES,
    build_channels,
    circuit_breaker,
    expiry_policy,
    message_builder,
    retry_policy,
)
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.tables import store_options
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, DeliveryResult, RetryScheduled
from nudgeflow.rules.contracts.outcomes import Outcome, OutcomeKind

log = logging.getLogger(__name__)
RESUME_POLL_SECONDS = 0.5


def register_outbox(
    app: faust.App,
    settings: Settings,
    *,
    deliveries: faust.TopicT,
    outcomes: faust.TopicT,
    ready: Callable[[], bool],
    allows: Allows = allow_all,
    clock: Clock | None = None,
) -> OutboxSender:
    # delivery id → OutboxEntry as JSON
    table = app.Table("outbox", partitions=settings.topic_partitions, options=store_options(settings))
    clock = clock or SystemClock()

    async def publish_attempt(request: DeliveryRequest, attempt: Attempt) -> None:
        record = Outcome.of(
            OutcomeKind.DELIVERY_ATTEMPTED,
            f"{attempt.delivery_id}:{attempt.attempt}",
            user_id=request.user_id,
            occurred_at=attempt.started_at,
            recorded_at=datetime.now(UTC),
            playbook_id=request.playbook_id,
            playbook_version=request.playbook_version,
            milestone_id=request.milestone_id,
            delivery_id=request.delivery_id,
            channel=request.channel,
            attributes=attempt.model_dump(mode="json"),
        )
        await outcomes.send(key=request.user_id.encode(), value=record.model_dump_json().encode())
        metrics.DELIVERIES.labels(request.channel, f"attempt_{attempt.status}").inc()

    async def publish(record: DeliveryResult | RetryScheduled, partition: int) -> None:
        """Back onto the delivery's own partition, so the agent records it in order."""
        value = record.model_dump_json().encode()
        await (await deliveries.send(key=record.user_id.encode(), value=value, partition=partition))

    sender = OutboxSender(
        build_channels(settings),
        retry_policy(settings),
        concurrency=settings.delivery_concurrency,
        publish_attempt=publish_attempt,
        publish_result=publish,
        publish_retry=publish,
        allows=allows,
        build_message=message_builder(settings),
        expiry=expiry_policy(settings),
        clock=clock,
        breaker=circuit_breaker(settings),
        provider_names=PROVIDER_NAMES,
    )

    async def publish_closed(result: DeliveryResult, request: DeliveryRequest) -> None:
        kind = OutcomeKind.DELIVERED if result.status == "sent" else OutcomeKind.DELIVERY_FAILED
        record = Outcome.of(
            kind,
            f"{result.delivery_id}:{request.channel}",
            user_id=result.user_id,
            occurred_at=result.finished_at or datetime.now(UTC),
            recorded_at=datetime.now(UTC),
            playbook_id=request.playbook_id,
            playbook_version=request.playbook_version,
            milestone_id=request.milestone_id,
            delivery_id=result.delivery_id,
            channel=request.channel,
            attributes={
                "status": result.status,
                "attempts": result.attempts,
                "reason": result.reason,
                "kind": request.kind,
                "step": request.step,
            },
        )
        await (await outcomes.send(key=result.user_id.encode(), value=record.model_dump_json().encode()))
        metrics.DELIVERIES.labels(request.channel, result.status).inc()

    ledger = OutboxLedger(
        table, sender, clock=clock, retention=settings.delivery_retention, publish_closed=publish_closed
    )
    resume_token = {"value": ""}

    @app.agent(deliveries, name="outbox")
    async def outbox(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            document = json.loads(message.value)
            if document.get("type") == "resume_marker":
                if document.get("token") == resume_token["value"]:
                    ledger.resume(message.partition)
            else:
                await ledger.handle(document, message.partition)

    rebalanced = asyncio.Event()

    @app.on_rebalance_complete.connect
    async def _rebalanced(sender_: Any, /, *_: Any, signal: Any = None, **__: Any) -> None:
        rebalanced.set()

    async def resume_in_flight() -> None:
        """After each rebalance: drop sends of lost partitions; for each gained partition, publish a
        marker and resume its in-flight sends only when the agent reaches it. By then every result
        published before the restart has been read; a result this worker published after the
        marker is in the sender's record of completed deliveries, so it is not sent again either."""
        while True:
            await rebalanced.wait()
            while not ready():
                await asyncio.sleep(RESUME_POLL_SECONDS)
            rebalanced.clear()
            owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.deliveries_topic}
            await sender.keep_only(owned)
            resume_token["value"] = token = uuid.uuid4().hex
            marker = json.dumps({"type": "resume_marker", "token": token}).encode()
            for partition in owned:
                await deliveries.send(key=b"resume-marker", value=marker, partition=partition)

    app.task(resume_in_flight)
    return sender
