"""Wire contracts: what product teams publish (Segment spec) and what Nudgeflow publishes back."""

from nudgeflow.rules.contracts.events import IdentifyEvent, ProductEvent, TrackEvent, parse_product_event
from nudgeflow.rules.contracts.outcomes import Outcome, OutcomeKind

__all__ = [
    "IdentifyEvent",
    "Outcome",
    "OutcomeKind",
    "ProductEvent",
    "TrackEvent",
    "parse_product_event",
]
