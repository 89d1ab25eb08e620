"""Per-user notification preferences: channel opt-outs, playbook opt-outs, global unsubscribe.

Source of truth is the compacted preferences topic (key = user id, value = the user's whole
`Preferences` as JSON, see nudgeflow.rules.contracts.preferences; a tombstone resets to defaults).
Every reader — the in-app API, the delivery outbox — materializes it into a `PreferencesStore` and
asks `store.allows(user_id, channel, playbook_id)` before delivering:

    store = PreferencesStore()   # filled by nudgeflow.orchestrator.feeds.preferences.PreferencesMaterializer

Changes go through `PreferencesService` (API, unsubscribe links, SendGrid webhook), which
also publishes an identify event with `nudgeflow_*` traits so rules can see them.
"""

from nudgeflow.channels.preferences.service import PreferencesService
from nudgeflow.channels.preferences.store import PreferencesStore

__all__ = ["PreferencesService", "PreferencesStore"]
