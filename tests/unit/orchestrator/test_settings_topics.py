"""Internal topics belong to one app: two deployments on one cluster must not share them."""

from __future__ import annotations

import pytest

from nudgeflow.orchestrator.settings import Settings
from nudgeflow.orchestrator.topics import co_partitioned, topic_specs


def test_the_timers_topic_follows_the_app_id_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().timers_topic == "nudgeflow.timers"
    assert Settings(app_id="shop-eu").timers_topic == "shop-eu.timers"
    monkeypatch.setenv("NUDGEFLOW_APP_ID", "shop-us")
    assert Settings().timers_topic == "shop-us.timers"
    monkeypatch.setenv("NUDGEFLOW_TIMERS_TOPIC", "ops.timers")
    assert Settings().timers_topic == "ops.timers"


def test_two_apps_share_no_topic_the_agent_reads() -> None:
    eu = Settings(app_id="eu", events_topic="eu.events")
    us = Settings(app_id="us", events_topic="us.events")
    assert not set(co_partitioned(eu)) & set(co_partitioned(us))
    assert set(co_partitioned(eu)) <= {spec.name for spec in topic_specs(eu)}
