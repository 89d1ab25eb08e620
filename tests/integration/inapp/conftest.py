"""Workers for the in-app tests: one with a known signing secret, its own preferences topic and a SendGrid
verification key; one serving the demo page (for the browser tests). A test module's `PLAYBOOK` is what
they run (see the `rules_path` fixture)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.integration.inapp.inapp_support import SECRET, SENDGRID_PUBLIC


@pytest.fixture
async def inapp_worker(make_settings, rules_path: Path) -> AsyncIterator[Worker]:  # type: ignore[no-untyped-def]
    settings = make_settings(
        rules_path,
        inapp_signing_secret=SECRET,
        sendgrid_webhook_public_key=SENDGRID_PUBLIC,
        preferences_topic=f"p{uuid.uuid4().hex[:8]}.preferences",
    )
    async with Worker(settings) as running:
        await running.wait_ready(timeout=60)
        yield running


@pytest.fixture
async def demo_worker(make_settings, rules_path: Path) -> AsyncIterator[Worker]:  # type: ignore[no-untyped-def]
    async with Worker(make_settings(rules_path), demo_page=True) as running:
        await running.wait_ready(timeout=60)
        yield running
