"""Changing preferences: write the record, update the local store, tell the rules (identify)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nudgeflow.channels.preferences.store import PreferencesStore
from nudgeflow.channels.product_events import PublishEvent, identify_event
from nudgeflow.rules.contracts.deliveries import Channel
from nudgeflow.rules.contracts.preferences import Preferences, PreferencesUpdate

WritePreferences = Callable[[Preferences], Awaitable[None]]


class PreferencesService:
    """Every change: identify event first (traits `nudgeflow_*`), then the preferences record, then the
    local store. A failure in between is fixed by retrying: the record is only written after the
    identify, so the rules never miss a change that was stored."""

    def __init__(
        self,
        store: PreferencesStore,
        *,
        write: WritePreferences,
        publish_event: PublishEvent,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._write = write
        self._publish_event = publish_event
        self._clock = clock

    async def set(self, user_id: str, update: PreferencesUpdate, *, source: str) -> Preferences:
        """Replace the user's choice; unchanged choices write nothing."""
        current = self.store.get(user_id)
        if current.updated_at is not None and current.choice() == update:
            return current
        changed = current.changed(update, source=source, at=self._clock())
        await self._publish_event(identify_event(user_id, changed.traits(), at=changed.updated_at or self._clock()))
        await self._write(changed)
        return self.store.apply(changed)

    async def unsubscribe(self, user_id: str, *, source: str) -> Preferences:
        choice = self.store.get(user_id).choice()
        return await self.set(user_id, choice.model_copy(update={"unsubscribed": True}), source=source)

    async def opt_out_channel(self, user_id: str, channel: Channel, *, source: str) -> Preferences:
        choice = self.store.get(user_id).choice()
        channels = sorted({*choice.opt_out_channels, channel})
        return await self.set(
            user_id,
            PreferencesUpdate(
                unsubscribed=choice.unsubscribed, opt_out_channels=channels, opt_out_playbooks=choice.opt_out_playbooks
            ),
            source=source,
        )
