"""Local stand-ins for the providers, for tests and the demo: real HTTP, no accounts.

Each records every request and can be told to fail (`fail_next`, `fail_for`,
`rate_limit_next`, `delay`, `heal`).
"""

from nudgeflow.channels.standins.faults import Fault, FaultPlan
from nudgeflow.channels.standins.sendgrid_server import SendGridStandIn
from nudgeflow.channels.standins.server import RecordedRequest, StandInServer
from nudgeflow.channels.standins.slack_server import SlackStandIn

__all__ = ["Fault", "FaultPlan", "RecordedRequest", "SendGridStandIn", "SlackStandIn", "StandInServer"]
