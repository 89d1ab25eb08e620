"""Give Faust's worker consumer the fetch wait of our broker profile.

faust-streaming 0.15.3 builds its consumer with a hard-coded `fetch_max_wait_ms=1500`
(`transport/drivers/aiokafka.py`, `_create_worker_consumer`) and has no setting for it. Apache
Kafka answers a fetch as soon as data arrives, so there the wait only paces idle polls; Tansu
answers only when the wait expires, so every hop through Faust cost 1.5 s (docs/benchmarks.md).
The patch sets the consumer's wait, after Faust built it and before it starts, from the value
`set_fetch_wait` stored on the app; apps without one keep Faust's default.
"""

from __future__ import annotations

from typing import Any

_ATTRIBUTE = "_nudgeflow_fetch_wait_ms"
_APPLIED_FLAG = "_nudgeflow_fetch_wait_patched"


def set_fetch_wait(app: Any, milliseconds: int) -> None:
    """Use `milliseconds` as the fetch wait of `app`'s worker consumer (call before the app starts)."""
    _apply()
    setattr(app, _ATTRIBUTE, milliseconds)


def _apply() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if getattr(AIOKafkaConsumerThread, _APPLIED_FLAG, False):
        return
    original = AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, _ATTRIBUTE, None)
        if wait is not None:
            consumer._fetch_max_wait_ms = wait  # read by AIOKafkaConsumer.start() when it builds its Fetcher
        return consumer

    setattr(AIOKafkaConsumerThread, "_create_worker_consumer", _create_worker_consumer)  # noqa: B010
    setattr(AIOKafkaConsumerThread, _APPLIED_FLAG, True)
