"""In-app channel: prompts stored per user and served over HTTP.

Source of truth is the compacted prompts topic (key `user_id/delivery_id`). Workers
append a prompt when a celebration or nudge is delivered; the API appends status
changes. Every API replica materializes the topic into memory (`InboxStore`), so
the API keeps working when workers rebalance or restart. See docs/architecture.md;
the record itself is `nudgeflow.rules.contracts.prompts.Prompt`.
"""

from nudgeflow.channels.inapp.store import InboxStore

__all__ = ["InboxStore"]
