"""Real provider clients against the local stand-ins; nothing of ours is patched."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from nudgeflow.channels import OutboundMessage, SendGridEmailChannel, SlackChannel
from nudgeflow.channels.standins import SendGridStandIn, SlackStandIn

TIMEOUT = 0.5


@pytest.fixture
async def sendgrid_server() -> AsyncIterator[SendGridStandIn]:
    async with SendGridStandIn() as server:
        yield server


@pytest.fixture
async def slack_server() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as server:
        yield server


@pytest.fixture
def email_channel(sendgrid_server: SendGridStandIn) -> Callable[..., SendGridEmailChannel]:
    def build(api_key: str = "SG.test-key", **kwargs) -> SendGridEmailChannel:
        kwargs.setdefault("timeout", TIMEOUT)
        return SendGridEmailChannel(api_key, "hello@nudgeflow.dev", host=sendgrid_server.url, **kwargs)

    return build


@pytest.fixture
def slack_channel(slack_server: SlackStandIn) -> Callable[..., SlackChannel]:
    def build(token: str = "xoxb-test", **kwargs) -> SlackChannel:
        kwargs.setdefault("timeout", TIMEOUT)
        return SlackChannel(token, base_url=f"{slack_server.url}/api/", **kwargs)

    return build


@pytest.fixture
def message() -> Callable[..., OutboundMessage]:
    def build(**overrides) -> OutboundMessage:
        fields = dict(
            delivery_id="d-123",
            channel="email",
            user_id="u-1",
            kind="celebration",
            title="First dashboard!",
            body="You built your first dashboard.",
            to_email="ada@example.com",
            slack_user_id="U0ADA",
            unsubscribe_url="https://app/unsub?t=1",
            categories=["nudgeflow", "celebration"],
            progress_done=2,
            progress_total=5,
        )
        fields.update(overrides)
        return OutboundMessage(**fields)

    return build


@pytest.fixture
def worker_settings(make_settings, sendgrid_server: SendGridStandIn, slack_server: SlackStandIn, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings of a worker whose email and Slack go to the stand-ins, with `playbook` as its only rules."""

    def build(playbook: str, **overrides: Any) -> Any:
        rules = tmp_path / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "playbook.yaml").write_text(playbook)
        return make_settings(
            rules,
            sendgrid_api_key="SG.test",
            sendgrid_host=sendgrid_server.url,
            slack_bot_token="xoxb-test",
            slack_api_url=f"{slack_server.url}/api/",
            **overrides,
        )

    return build
