"""`analytics ingest --clickhouse`: the ingester on the real broker writing to ClickHouse (embedded, chdb),
resuming from its stored offsets, and never counting a record twice when it reads it again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from nudgeflow.orchestrator.analytics.clickhouse.engine import ClickHouseEngine, EmbeddedClient
from nudgeflow.orchestrator.analytics.clickhouse.sink import ClickHouseSink
from nudgeflow.orchestrator.analytics.folder import open_folder
from nudgeflow.orchestrator.analytics.ingest import Ingester
from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.sample import write_sample
from nudgeflow.orchestrator.broker.clients import aiokafka_options
from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.topics import ensure_topics
from nudgeflow.rules import load_ruleset
from nudgeflow.rules.schema import Playbook
from tests.support.analytics import comparable

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


async def _produce(settings: Settings, lines: list[tuple[str, bytes]]) -> None:
    assert settings.kafka_bootstrap_servers
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20)
    await producer.start()
    try:
        for topic, value in lines:
            await producer.send(topic, value, key=json.loads(value).get("userId", "").encode() or None)
        await producer.flush()
    finally:
        await producer.stop()


async def _ingest_until(sink: ClickHouseSink, settings: Settings, records: int) -> dict[str, float]:
    """Run an ingester until it has read `records` records and written them, then stop it."""
    assert settings.kafka_bootstrap_servers
    ingester = Ingester(
        sink,
        events_topic=settings.events_topic,
        outcomes_topic=settings.outcomes_topic,
        kafka_options=aiokafka_options(settings, settings.kafka_bootstrap_servers),
        flush_rows=2_000,
        flush_seconds=0.1,
    )
    flushed = asyncio.Event()
    ingester.on_flush = lambda totals: flushed.set() if totals["read"] >= records else None
    running = asyncio.create_task(ingester.run())
    await asyncio.wait_for(flushed.wait(), 120)
    ingester.stop()
    await running
    return ingester.totals


def _report(engine: Any, playbooks: list[Playbook]) -> dict[str, Any]:
    return dict(comparable(OnboardingAnalytics(playbooks, engine).report().model_dump(mode="json")))


async def test_ingested_records_give_the_same_report_and_a_reread_counts_nothing_twice(
    make_settings: Any, rules_path: Path, tmp_path: Path
) -> None:
    settings: Settings = make_settings(rules_path)
    assert settings.kafka_bootstrap_servers
    await ensure_topics(settings, aiokafka_options(settings, settings.kafka_bootstrap_servers))
    playbooks = list(load_ruleset(REPO / "playbooks").playbooks)
    sample = tmp_path / "sample"
    write_sample(playbooks, sample, 400, seed=5)
    lines = [(settings.events_topic, line) for line in (sample / "events.jsonl").read_bytes().splitlines()]
    lines += [(settings.outcomes_topic, line) for line in (sample / "outcomes.jsonl").read_bytes().splitlines()]
    half = len(lines) // 2
    expected = _report(open_folder(sample), playbooks)

    engine = ClickHouseEngine(EmbeddedClient(tmp_path / "clickhouse"))
    try:
        sink = ClickHouseSink(engine)
        await _produce(settings, lines[:half])
        first = await _ingest_until(sink, settings, half)
        await _produce(settings, lines[half:])
        resumed = await _ingest_until(sink, settings, len(lines) - half)
        assert first["read"] == half and resumed["read"] == len(lines) - half  # resumed at the stored offsets
        assert _report(engine, playbooks) == expected

        # A crash after the rows, before their offsets: the next run reads everything again.
        stored = sink.offsets()
        sink.store_offsets({TopicPartition(tp.topic, tp.partition): 0 for tp in stored})
        again = await _ingest_until(sink, settings, len(lines))
        assert again["events"] == again["outcomes"] == 0  # nothing new
        assert _report(engine, playbooks) == expected
        assert sink.offsets() == stored
    finally:
        engine.close()
