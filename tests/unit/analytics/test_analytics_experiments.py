"""Experiments on generated data: a real effect is detected, an A/A test is not."""

from __future__ import annotations

import random

import pytest

from nudgeflow.orchestrator.analytics import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.experiments import compare, rate
from nudgeflow.orchestrator.analytics.results import ExperimentResult
from nudgeflow.rules.schema import Experiment, Variant
from tests.support.analytics import PLAYBOOK, completed, exposure, identify, track


def _experiment(rates: dict[str, float], users_per_variant: int, seed: int) -> OnboardingAnalytics:
    rng = random.Random(seed)
    analytics = OnboardingAnalytics([PLAYBOOK])
    for variant, p in rates.items():
        for n in range(users_per_variant):
            user = f"{variant}-{n}"
            analytics.add_event(identify(user, f"{user}-id", 0, role="admin"))
            analytics.add_outcome(exposure(user, 0, "welcome-copy", variant))
            if rng.random() < p:
                analytics.add_outcome(completed(user, 5, "a"))
    return analytics


def test_a_better_variant_has_a_lift_whose_interval_excludes_zero() -> None:
    [result] = _experiment({"control": 0.30, "b": 0.40}, 1500, seed=7).experiments()
    assert (result.experiment, result.control, result.metric_milestone) == ("welcome-copy", "control", "a")
    [lift] = result.lifts
    assert lift.variant == "b" and lift.lift is not None
    assert lift.lift.significant and lift.lift.absolute_ci_low > 0 and lift.lift.p_value < 0.05
    assert 0.05 < lift.lift.absolute < 0.15
    assert lift.lift.relative_ci_low is not None and lift.lift.relative_ci_low > 0
    for variant in result.variants:
        assert variant.ci_low is not None and variant.ci_high is not None and variant.rate is not None
        assert variant.ci_low < variant.rate < variant.ci_high


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_a_a_test_is_not_significant(seed: int) -> None:
    [result] = _experiment({"control": 0.30, "copy": 0.30}, 1500, seed=seed).experiments()
    [lift] = result.lifts
    assert lift.lift is not None and not lift.lift.significant
    assert lift.lift.absolute_ci_low < 0 < lift.lift.absolute_ci_high


def test_exposure_before_conversion_and_first_variant_only() -> None:
    analytics = OnboardingAnalytics([PLAYBOOK])
    analytics.add_all(
        [identify("u", "u-id", 0, role="admin"), identify("v", "v-id", 0, role="admin")],
        [
            completed("u", 1, "a"),
            exposure("u", 2, "exp", "b"),  # converted before exposure: not counted
            exposure("v", 3, "exp", "b") | {"outcome_id": "exposure:v:exp:late"},
            exposure("v", 1, "exp", "control"),
            completed("v", 2, "a"),
        ],
    )
    [result] = analytics.experiments()
    assert {r.label: (r.users, r.converted) for r in result.variants} == {"b": (1, 0), "control": (1, 1)}
    assert result.conflicting_users == 1


def test_wilson_interval_and_degenerate_lifts() -> None:
    assert rate("x", 0, 0).rate is None
    r = rate("x", 10, 3)
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (0.1078, 0.6032)  # Wilson 95% for 3/10
    nothing = compare(rate("b", 10, 0), rate("a", 10, 0))
    assert nothing is not None and not nothing.significant and nothing.p_value == 1.0
    everything = compare(rate("b", 5, 5), rate("a", 5, 0))
    assert everything is not None and everything.significant and everything.absolute_ci_high <= 1.0


@pytest.mark.parametrize(
    ("chi2", "df", "p"),
    [(3.841459, 1, 0.05), (10.827566, 1, 0.001), (5.991465, 2, 0.05), (0.0, 1, 1.0), (40.0, 3, 1.0655e-8)],
)
def test_the_chi_square_tail_matches_the_tables(chi2: float, df: int, p: float) -> None:
    from nudgeflow.orchestrator.analytics.experiments import _upper_gamma_regularized

    assert _upper_gamma_regularized(df / 2, chi2 / 2) == pytest.approx(p, rel=2e-3)


def _split(counts: dict[str, int]) -> OnboardingAnalytics:
    """Exposures of the playbook's own experiment (control and b, weights 1:1, 10% held out)."""
    playbook = PLAYBOOK.model_copy(
        update={
            "experiment": Experiment(
                id="welcome-copy", variants=[Variant(name="control"), Variant(name="b")], holdout=0.1
            )
        }
    )
    analytics = OnboardingAnalytics([playbook])
    for variant, users in counts.items():
        for n in range(users):
            analytics.add_event(identify(f"{variant}-{n}", f"{variant}-{n}-id", 0, role="admin"))
            analytics.add_outcome(exposure(f"{variant}-{n}", 0, "welcome-copy", variant))
    return analytics


def test_a_split_that_matches_the_weights_passes_the_sample_ratio_check() -> None:
    [result] = _split({"control": 452, "b": 441, "holdout": 107}).experiments()
    assert result.sample_ratio_p_value is not None and result.sample_ratio_p_value > 0.1
    assert not result.sample_ratio_mismatch


def test_a_broken_split_is_a_sample_ratio_mismatch_and_the_summary_warns_instead_of_claiming() -> None:
    analytics = _split({"control": 500, "b": 380, "holdout": 100})  # b lost a quarter of its users
    [result] = analytics.experiments()
    assert result.sample_ratio_mismatch and (result.sample_ratio_p_value or 1) < 0.001
    [claim] = [c for c in analytics.report().summary if c.section == "experiments"]
    assert "split" in claim.text and "welcome-copy" in claim.text and "beats" not in claim.text


def _exposed(metric: dict[str, object]) -> OnboardingAnalytics:
    """Two exposed users per variant, judged on the playbook's metric: b1 reaches `b` 2 days after
    exposure and comes back on day 7; c1 reaches it after 10 days; b2 and c2 never do."""
    playbook = PLAYBOOK.model_copy(
        update={
            "experiment": Experiment.model_validate(
                {"id": "copy", "variants": [{"name": "control"}, {"name": "b"}], "metric": metric}
            )
        }
    )
    analytics = OnboardingAnalytics([playbook])
    for user, variant in (("b1", "b"), ("b2", "b"), ("c1", "control"), ("c2", "control")):
        analytics.add_event(identify(user, f"{user}-id", 0, role="admin"))
        analytics.add_outcome(exposure(user, 0, "copy", variant))
    analytics.add_outcome(completed("b1", 48, "b"))
    analytics.add_outcome(completed("c1", 240, "b"))
    analytics.add_event(track("b1", "b1-back", 7 * 24 + 3))
    analytics.add_event(track("c2", "c2-late", 30 * 24))  # as_of: day 30
    return analytics


def _judged(metric: dict[str, object]) -> ExperimentResult:
    [result] = _exposed(metric).experiments()
    return result


@pytest.mark.parametrize(
    ("metric", "label", "converted"),
    [
        ({"milestone": "b"}, "reached b after exposure", {"b": 1, "control": 1}),
        ({"milestone": "b", "within": "7d"}, "reached b within 1w after exposure", {"b": 1, "control": 0}),
        ({"active_on_day": 7}, "active on day 7 after exposure", {"b": 1, "control": 0}),
        ({}, "reached a after exposure", {"b": 0, "control": 0}),
    ],
)
def test_an_experiment_is_judged_on_the_metric_its_playbook_names(
    metric: dict[str, object], label: str, converted: dict[str, int]
) -> None:
    result = _judged(metric)
    assert result.metric == label
    assert {v.label: v.converted for v in result.variants} == converted
    assert all(v.users == 2 for v in result.variants)


def test_each_variant_has_its_own_funnel() -> None:
    funnels = {f.variant: f for f in _exposed({}).report().variant_funnels}
    assert set(funnels) == {"b", "control"} and all(f.experiment == "copy" for f in funnels.values())
    for variant in ("b", "control"):
        a, b, _ = funnels[variant].steps
        assert (funnels[variant].entered, a.reached, b.completed_any_order) == (2, 0, 1)
