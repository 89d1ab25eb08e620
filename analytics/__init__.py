"""Proof of value: onboarding metrics, experiments, dashboard, report and digest.

`OnboardingAnalytics` is the pure core; `analytics.source` feeds it from Kafka.
"""

from analytics.model import OnboardingAnalytics
from analytics.records import OutcomeRecord
from analytics.results import Filter, Report

__all__ = ["Filter", "OnboardingAnalytics", "OutcomeRecord", "Report"]
