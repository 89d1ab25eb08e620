"""Proof of value: onboarding metrics, experiments, dashboard, report and digest.

`OnboardingAnalytics` computes the metrics in DuckDB (`queries`); `source` feeds it from Kafka, the
ingester keeps a DuckDB file up to date for `report`, `dashboard` and `digest` to read.
"""

from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.results import Filter, Report

__all__ = ["Filter", "OnboardingAnalytics", "Report"]
