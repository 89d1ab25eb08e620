"""Wire contracts: what product teams publish (Segment spec) and what Nudgeflow publishes back."""

from events.outcomes import Outcome, OutcomeKind
from events.segment import IdentifyEvent, ProductEvent, TrackEvent, parse_product_event

__all__ = [
    "IdentifyEvent",
    "Outcome",
    "OutcomeKind",
    "ProductEvent",
    "TrackEvent",
    "parse_product_event",
]
