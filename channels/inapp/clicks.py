"""Tracked links for email and Slack: each CTA/link URL becomes `GET /v1/r/{token}` on the in-app API,
which records a "Link Clicked" event and redirects (302) to the URL the token names.

In-app prompts need no rewriting: the widget reports clicks through the prompt status call.
"""

from __future__ import annotations

from nudgeflow.channels.base import OutboundMessage
from nudgeflow.channels.inapp.auth import Keys, click_url
from nudgeflow.channels.product_events import LinkClick
from nudgeflow.rules.contracts.deliveries import DeliveryRequest, RenderedLink


def tracked_links(message: OutboundMessage, request: DeliveryRequest, api_base_url: str, keys: Keys) -> OutboundMessage:
    """The message with every CTA and link pointing at the redirect endpoint (labels unchanged)."""

    def track(link: RenderedLink | None, ref: str) -> RenderedLink | None:
        if link is None:
            return None
        click = LinkClick(
            user_id=request.user_id,
            delivery_id=request.delivery_id,
            link=ref,
            url=link.url,
            channel=request.channel,
            playbook_id=request.playbook_id,
            playbook_version=request.playbook_version,
            milestone_id=request.milestone_id,
            kind=request.kind,
        )
        return RenderedLink(label=link.label, url=click_url(api_base_url, keys, click))

    links = [track(link, f"links.{i}") for i, link in enumerate(message.links)]
    return message.model_copy(
        update={
            "cta": track(message.cta, "cta"),
            "secondary_cta": track(message.secondary_cta, "secondary_cta"),
            "links": [link for link in links if link is not None],
        }
    )
