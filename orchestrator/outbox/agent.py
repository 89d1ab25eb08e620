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
from nudgeflow.orchestrator.outbox.providers import build_channels, message_builder, retry_policy
from nudgeflow.orchestrator.outbox.sender import OutboxSender
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, DeliveryResult, OutboxEntry
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
) -> OutboxSender:
    table = app.Table("outbox", partitions=settings.topic_partitions)  # delivery id → OutboxEntry as JSON
    requests: dict[str, DeliveryRequest] = {}

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

    async def publish_result(result: DeliveryResult, partition: int) -> None:
        await (
            await deliveries.send(
                key=result.user_id.encode(), value=result.model_dump_json().encode(), partition=partition
            )
        )

    sender = OutboxSender(
        build_channels(settings),
        retry_policy(settings),
        concurrency=settings.delivery_concurrency,
        publish_attempt=publish_attempt,
        publish_result=publish_result,
        allows=allows,
        build_message=message_builder(settings),
    )

    async def close(result: DeliveryResult, partition: int) -> None:
        request = requests.pop(result.delivery_id, None) or _stored_request(table.get(result.delivery_id))
        table[result.delivery_id] = OutboxEntry(status=result.status, partition=partition).model_dump(mode="json")
        if request is None:
            return
        kind = OutcomeKind.DELIVERED if result.status == "sent" else OutcomeKind.DELIVERY_FAILED
        record = Outcome.of(
            kind,
            f"{result.delivery_id}:{request.channel}",
            user_id=result.user_id,
            occurred_at=datetime.now(UTC),
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

    resume_token = {"value": ""}

    def resume(partition: int) -> None:
        """Restart sends left in flight on this partition by a worker that stopped."""
        for delivery_id, stored in list(table.items()):
            entry = OutboxEntry.model_validate(stored)
            if (
                not entry.final
                and entry.partition == partition
                and entry.request is not None
                and not sender.running(delivery_id)
            ):
                log.info("resuming delivery %s after a restart or rebalance", delivery_id)
                requests[delivery_id] = entry.request
                sender.start(entry.request, entry.partition)

    @app.agent(deliveries, name="outbox")
    async def outbox(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            document = json.loads(message.value)
            kind = document.get("type")
            if kind == "delivery_result":
                await close(DeliveryResult.model_validate(document), message.partition)
            elif kind == "resume_marker":
                if document.get("token") == resume_token["value"]:
                    resume(message.partition)
            else:
                request = DeliveryRequest.model_validate(document)
                if table.get(request.delivery_id):
                    continue  # already sent, failed, or in flight (resumed after a rebalance)
                table[request.delivery_id] = OutboxEntry(
                    status="in_flight", partition=message.partition, request=request
                ).model_dump(mode="json")
                requests[request.delivery_id] = request
                sender.start(request, message.partition)

    rebalanced = asyncio.Event()

    @app.on_rebalance_complete.connect
    async def _rebalanced(sender_: Any, **_: Any) -> None:
        rebalanced.set()

    @app.task
    async def resume_in_flight() -> None:
        """After each rebalance: drop sends of lost partitions; for each gained partition, publish a
        marker and resume its in-flight sends only when the agent reaches it. By then every result
        published before the restart has been read, so a send that finished is not sent again."""
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

    return sender


def _stored_request(stored: dict[str, Any] | None) -> DeliveryRequest | None:
    return OutboxEntry.model_validate(stored).request if stored else None
