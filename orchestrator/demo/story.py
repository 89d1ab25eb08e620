"""A scripted onboarding story, played as real Kafka events by a plain producer.

The story (story.yaml) names users with roles and time zones and the steps
they take; background page views show throughput, and a few bad records show
the dead-letter topic and de-duplication at work. A `click` step follows a link
of the user's newest prompt of a kind, as the product's front end would, through
the in-app API (the runner supplies how: `Clicker`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel, Field

from nudgeflow.orchestrator.producer import encode, identify, publish, track


class StoryUser(BaseModel):
    id: str
    timezone: str
    traits: dict[str, Any]


class StoryStep(BaseModel):
    after: float = Field(ge=0, description="Seconds after the previous step.")
    user: str
    event: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    duplicate: bool = Field(default=False, description="Publish the same messageId twice.")
    raw: str | None = Field(default=None, description="Publish these bytes as-is (a malformed record).")
    click: str | None = Field(
        default=None, description="Follow a link of the user's newest prompt of this kind (nudge, welcome, …)."
    )
    link: str = Field(default="cta", description="With `click`: which link (cta, secondary_cta, links.N).")


class Story(BaseModel):
    users: list[StoryUser]
    steps: list[StoryStep]
    background_events_per_second: float = 50.0

    @classmethod
    def bundled(cls) -> Story:
        text = resources.files("nudgeflow.orchestrator.demo").joinpath("story.yaml").read_text(encoding="utf-8")
        return cls.model_validate(yaml.safe_load(text))


@dataclass
class PlayStats:
    story_events: int = 0
    background_events: int = 0
    malformed: int = 0
    duplicates: int = 0
    clicks: int = 0


Clicker = Callable[[str, str, str], Awaitable[bool]]
"""(user, prompt kind, link) → whether the user's newest prompt of that kind had the link to follow."""


async def no_clicks(user: str, kind: str, link: str) -> bool:
    return False


class StoryPlayer:
    def __init__(
        self,
        story: Story,
        producer: AIOKafkaProducer,
        topic: str,
        *,
        speed: float = 1.0,
        clicker: Clicker = no_clicks,
    ) -> None:
        self.story, self.producer, self.topic, self.speed = story, producer, topic, speed
        self.clicker = clicker
        self.stats = PlayStats()

    async def play(self) -> None:
        """Identify every user, then play the steps in order."""
        for user in self.story.users:
            await publish(self.producer, self.topic, identify(user.id, user.traits, timezone=user.timezone))
        timezones = {user.id: user.timezone for user in self.story.users}
        for step in self.story.steps:
            await asyncio.sleep(step.after / self.speed)
            if step.raw is not None:
                await self.producer.send_and_wait(self.topic, step.raw.encode(), key=step.user.encode())
                self.stats.malformed += 1
                continue
            if step.click is not None:
                self.stats.clicks += int(await self.clicker(step.user, step.click, step.link))
                continue
            assert step.event is not None
            event = track(step.user, step.event, step.properties, timezone=timezones.get(step.user))
            for _ in range(2 if step.duplicate else 1):
                await publish(self.producer, self.topic, event)
            self.stats.story_events += 1
            self.stats.duplicates += int(step.duplicate)

    async def background(self) -> None:
        """Page views from every user, forever: the noise a real product stream carries."""
        rate = self.story.background_events_per_second
        users = [user.id for user in self.story.users]
        pages = ["/home", "/reports", "/settings", "/dashboards", "/integrations"]
        while rate > 0:
            batch = max(1, int(rate / 10))
            for _ in range(batch):
                user = random.choice(users)
                event = track(user, "Page Viewed", {"path": random.choice(pages)})
                await self.producer.send(self.topic, encode(event), key=user.encode())
            self.stats.background_events += batch
            await asyncio.sleep(0.1)
