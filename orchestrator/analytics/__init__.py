"""Proof of value: onboarding metrics, experiments, dashboard, report and digest.

`OnboardingAnalytics` is the pure core; `nudgeflow.orchestrator.analytics.source` feeds it from Kafka.
"""

from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.records import OutcomeRecord
from nudgeflow.orchestrator.analytics.results import Filter, Report

__all__ = ["Filter", "OnboardingAnalytics", "OutcomeRecord", "Report"]
