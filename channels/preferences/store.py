"""In-memory preferences: the preferences topic materialized per user."""

from __future__ import annotations

from collections.abc import Callable

from nudgeflow.rules.contracts.preferences import Preferences

Listener = Callable[[Preferences], None]
Allows = Callable[[str, str, str], bool]
"""`allows(user_id, channel, playbook_id)`: the question every send asks the user's preferences."""


def allow_all(user_id: str, channel: str, playbook_id: str) -> bool:
    """For the simulator, benchmarks and tests that are not about preferences."""
    return True


class PreferencesStore:
    """Latest `Preferences` per user; users never seen have the defaults (everything allowed)."""

    def __init__(self) -> None:
        self._by_user: dict[str, Preferences] = {}
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def get(self, user_id: str) -> Preferences:
        return self._by_user.get(user_id) or Preferences.default(user_id)

    def allows(self, user_id: str, channel: str, playbook_id: str | None = None) -> bool:
        """May a message of `playbook_id` reach `user_id` on `channel` ("in_app", "email", "slack")?"""
        return self.get(user_id).allows(channel, playbook_id)

    def apply(self, preferences: Preferences) -> Preferences:
        """Keep `preferences` unless the stored record is newer (a replica's own write read back late)."""
        current = self._by_user.get(preferences.user_id)
        if (
            current is not None
            and current.updated_at
            and preferences.updated_at
            and preferences.updated_at < current.updated_at
        ):
            return current
        if current == preferences:
            return current
        self._by_user[preferences.user_id] = preferences
        for listener in list(self._listeners):
            listener(preferences)
        return preferences

    def forget(self, user_id: str) -> None:
        """A tombstone on the topic: back to the defaults."""
        if self._by_user.pop(user_id, None) is not None:
            for listener in list(self._listeners):
                listener(Preferences.default(user_id))

    def users(self) -> list[str]:
        return sorted(self._by_user)
