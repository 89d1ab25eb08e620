import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from nudgeflow.channels.base import OutboundMessage, SendResult
from nudgeflow.rules.contracts.deliveries import DeliveryRequest


def _request(**data) -> DeliveryRequest:
    return DeliveryRequest(
        delivery_id="d-1",
        kind="celebration",
        channel="email",
        user_id="u-1",
        playbook_id="activation",
        playbook_version="3",
        milestone_id="first_dashboard",
        step=0,
        title="Nice!",
        body="You built a dashboard.",
        send_at=datetime(2025, 1, 1, tzinfo=UTC),
        data=data,
    )


def test_from_delivery_carries_the_idempotency_key_and_provenance():
    message = OutboundMessage.from_delivery(_request(), to_email="ada@example.com")
    assert message.delivery_id == "d-1"
    assert message.to_email == "ada@example.com"
    assert message.custom_args == {
        "playbook_id": "activation",
        "playbook_version": "3",
        "milestone_id": "first_dashboard",
        "step": "0",
    }
    assert message.categories == ["nudgeflow", "celebration", "activation"]


def test_from_delivery_reads_channel_fields_and_progress_from_data():
    message = OutboundMessage.from_delivery(
        _request(cta_url="https://app/x", done=2, total=5, unsubscribe_url="https://u", traits={"plan": "pro"})
    )
    assert (message.cta_url, message.progress_done, message.progress_total) == ("https://app/x", 2, 5)
    assert message.unsubscribe_url == "https://u"


def test_contact_fields_come_from_segment_traits():
    traits = {"email": "ada@example.com", "slack_user_id": "U7", "plan": "pro"}
    message = OutboundMessage.from_delivery(_request(traits=traits, timezone="Europe/Paris"))
    assert (message.to_email, message.slack_user_id) == ("ada@example.com", "U7")


def test_overrides_win_over_data():
    message = OutboundMessage.from_delivery(_request(slack_user_id="U1"), slack_user_id="U2")
    assert message.slack_user_id == "U2"


def test_messages_are_frozen_and_strict():
    message = OutboundMessage.from_delivery(_request())
    with pytest.raises(ValidationError):
        message.title = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        OutboundMessage(delivery_id="", channel="email", user_id="u", kind="nudge", title="t", body="b")
    with pytest.raises(ValidationError):
        OutboundMessage(delivery_id="d", channel="email", user_id="u", kind="nudge", title="t", body="b", unknown="x")


def test_send_result_constructors():
    assert SendResult.sent(provider_message_id="m").is_final
    assert SendResult.failed(reason="bad").is_final
    retry = SendResult.retry(reason="429", retry_after_seconds=2.0, status_code=429)
    assert not retry.is_final
    assert retry.retry_after_seconds == 2.0


def test_from_delivery_carries_the_rendered_cta_links_and_image():
    fields = _request().model_dump(mode="json") | {
        "cta": {"label": "Connect", "url": "https://app.example.com/sources/new"},
        "links": [{"label": "Help", "url": "https://help.example.com/a"}],
        "image": {"url": "https://cdn.example.com/i.png", "alt": "Sources"},
    }
    request = DeliveryRequest.model_validate_json(json.dumps(fields))  # as read from the deliveries topic
    message = OutboundMessage.from_delivery(request)
    assert (message.cta.label, message.cta_url) == ("Connect", "https://app.example.com/sources/new")
    assert [link.url for link in message.links] == ["https://help.example.com/a"]
    assert message.image.alt == "Sources" and message.secondary_cta is None


def test_a_delivery_written_before_ctas_existed_still_reads():
    old = _request().model_dump(mode="json")
    for name in ("cta", "secondary_cta", "links", "image"):
        old.pop(name)
    request = DeliveryRequest.model_validate(old)
    assert request.cta is None and request.links == []
    assert OutboundMessage.from_delivery(request).cta is None
