"""`OnboardingAnalytics`: the metrics of a DuckDB database of events and outcomes.

Feed it records in any order, any number of times (duplicates are dropped by id), or point it
at a database the ingester keeps up to date; ask it for metrics. No clock: `as_of` is the latest
event time seen, so a replay computes exactly what the live run computed. Every metric is SQL
(`queries`); this module only binds parameters and shapes rows into the result models.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import duckdb
from pydantic import BaseModel

from nudgeflow.orchestrator.analytics import queries, store
from nudgeflow.orchestrator.analytics.engine import DuckDBEngine, SqlEngine
from nudgeflow.orchestrator.analytics.experiments import compare, experiment_result, rate
from nudgeflow.orchestrator.analytics.results import (
    AccountStep,
    AdoptionRow,
    CohortCell,
    CohortResult,
    CohortRow,
    Distribution,
    ExperimentResult,
    FeedbackComment,
    FeedbackStep,
    Filter,
    FunnelResult,
    FunnelStep,
    HistogramBin,
    NudgeEffect,
    RepeatRow,
    Report,
    RetentionCell,
    RetentionRow,
    TtfvResult,
    TtfvTrend,
    ValueCell,
    ValueEvents,
    ValueRow,
)
from nudgeflow.orchestrator.analytics.summary import executive_summary
from nudgeflow.rules.durations import format_duration
from nudgeflow.rules.predicates import matches
from nudgeflow.rules.schema import HOLDOUT, Experiment, Playbook

WINDOWS = (1, 7, 30, 90)
RETENTION_DAYS = (1, 7, 30)
VALUE_DAYS = (30, 90)
HISTOGRAM = ("< 1h", "1–4h", "4–24h", "1–3d", "3–7d", "7–30d", "> 30d")
HOLDOUT_VARIANTS = frozenset({"holdout"})
COMMENTS_SHOWN = 100  # the newest survey comments a report lists


def _text(record: Any) -> str:
    if isinstance(record, BaseModel):
        return record.model_dump_json()
    if isinstance(record, bytes):
        return record.decode()
    return record if isinstance(record, str) else json.dumps(record)


def _columns(declaration: str) -> list[tuple[str, str]]:
    """ "a VARCHAR, b INTEGER" as [("a", "VARCHAR"), ("b", "INTEGER")]."""
    return [(name, kind) for name, kind in (column.split() for column in declaration.split(", "))]


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


class OnboardingAnalytics:
    """Metrics over one DuckDB connection (in memory by default) or another engine (`engine.py`)."""

    def __init__(
        self,
        playbooks: Sequence[Playbook],
        connection: duckdb.DuckDBPyConnection | SqlEngine | None = None,
        value_events: ValueEvents | None = None,
    ) -> None:
        self.playbooks = list(playbooks)
        self.value_events = value_events or ValueEvents()
        if connection is None or isinstance(connection, duckdb.DuckDBPyConnection):
            connection = DuckDBEngine(connection if connection is not None else store.connect())
        self.engine: SqlEngine = connection
        self._pending: tuple[list[str], list[str]] = ([], [])
        self._describe_playbooks()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for what only the embedded store does (adding records as they arrive)."""
        if not isinstance(self.engine, DuckDBEngine):
            raise TypeError(f"records are added to the {self.engine.name} engine by its own loader, not here")
        return self.engine.connection

    # -- input -----------------------------------------------------------------------------

    def close(self) -> None:
        self.engine.close()

    def add_texts(self, events: Sequence[str] = (), outcomes: Sequence[str] = ()) -> tuple[int, int]:
        """JSON texts as read from the topics; unreadable ones are skipped."""
        return store.add_texts(self.connection, events, outcomes)

    def add_all(self, events: Iterable[Any] = (), outcomes: Iterable[Any] = ()) -> None:
        """Records as dicts, models, or JSON text; inserted in one go before the next query."""
        self._pending[0].extend(_text(e) for e in events)
        self._pending[1].extend(_text(o) for o in outcomes)

    def _flush(self) -> None:
        if self._pending[0] or self._pending[1]:
            events, outcomes = self._pending
            self._pending = ([], [])
            self.add_texts(events, outcomes)

    def add_event(self, event: Any) -> None:
        self.add_all([event], [])

    def add_outcome(self, outcome: Any) -> None:
        self.add_all([], [outcome])

    # -- plain facts -----------------------------------------------------------------------

    def _scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        self._flush()
        rows = self.engine.rows(sql, params)
        return rows[0][0] if rows else None

    @property
    def duplicates(self) -> int:
        """Records received more than once (same messageId per user, same outcome_id)."""
        return int(self._scalar(queries.DUPLICATES))

    @property
    def latest_at(self) -> datetime | None:
        return _utc(self._scalar(queries.LATEST))

    def playbook(self, playbook_id: str) -> Playbook | None:
        return next((p for p in self.playbooks if p.id == playbook_id), None)

    def chosen_playbooks(self, flt: Filter) -> list[Playbook]:
        return [p for p in self.playbooks if flt.playbook in (None, p.id)]

    def user_count(self) -> int:
        return int(self._scalar("SELECT count(DISTINCT user_id) FROM (SELECT user_id FROM events UNION ALL "
                                "SELECT user_id FROM outcomes)"))  # fmt: skip

    def roles(self) -> list[str]:
        self._snapshot()
        return [str(r[0]) for r in self.engine.rows(queries.ROLES)]

    # -- preparation -----------------------------------------------------------------------

    def _describe_playbooks(self) -> None:
        """The playbooks as small tables the queries join: ladder steps, first values, unlock targets."""
        steps, targets, first_values, metrics = [], [], [], []
        self._ladder = max((len(p.milestones) for p in self.playbooks), default=1)
        for p in self.playbooks:
            if p.experiment is not None:
                m = p.experiment.metric
                within = m.within.total_seconds() if m.within is not None else None
                metrics.append((p.experiment.id, m.milestone, within, m.active_on_day))
            ids = [m.id for m in p.milestones]
            position = ids.index(p.first_value) + 1 if p.first_value in ids else None
            first_values.append((p.id, p.first_value, position))
            steps += [(p.id, n, m.id) for n, m in enumerate(p.milestones, 1)]
            unlocked = {t for m in p.milestones for t in p.unlocked_by(m)}
            targets += [(p.id, m.id, m.when.event) for m in p.milestones if m.id in unlocked]
        tables: dict[str, tuple[list[tuple[str, str]], list[tuple[Any, ...]]]] = {
            "_playbooks": (_columns("playbook_id VARCHAR, first_value VARCHAR, first_position INTEGER"), first_values),
            "_steps": (_columns("playbook_id VARCHAR, position INTEGER, milestone_id VARCHAR"), steps),
            "_targets": (_columns("playbook_id VARCHAR, milestone_id VARCHAR, event VARCHAR"), targets),
            "_experiment_metrics": (
                _columns("experiment VARCHAR, milestone_id VARCHAR, within_seconds DOUBLE, active_day INTEGER"),
                metrics,
            ),
        }
        for name, (columns, rows) in tables.items():
            self.engine.table_of(name, columns, rows)

    def _snapshot(self) -> None:
        self._flush()
        if not self.engine.kept_snapshot():
            self.engine.execute(queries.SNAPSHOT)
        self.engine.execute(queries.IN_PLAYBOOK)
        self._match_audiences()

    def _match_audiences(self) -> None:
        """Audience predicates run in Python, once per distinct set of traits (per user only for
        an audience that names `id`)."""
        trait_sets = [str(r[0]) for r in self.engine.rows(queries.TRAIT_SETS)]
        by_user: list[tuple[str, str]] | None = None
        rows: list[tuple[str, str, str | None]] = []
        for p in self.playbooks:
            if "id" in p.audience:
                if by_user is None:
                    by_user = [(str(u), str(t)) for u, t in self.engine.rows(queries.TRAITS_BY_USER)]
                rows += [(p.id, t, u) for u, t in by_user if matches(p.audience, {**json.loads(t), "id": u})]
            else:
                rows += [(p.id, t, None) for t in trait_sets if matches(p.audience, json.loads(t))]
        self.engine.table_of("_audience", _columns("playbook_id VARCHAR, traits VARCHAR, user_id VARCHAR"), rows)

    def _select(self, flt: Filter) -> None:
        start = datetime.combine(flt.signup_from, time.min, UTC) if flt.signup_from else None
        end = datetime.combine(flt.signup_to, time.min, UTC) + timedelta(days=1) if flt.signup_to else None
        self.engine.execute(queries.SELECTION, {"role": flt.role, "start": start, "end": end})
        self.engine.execute(queries.PLAYBOOK_MEMBERS)
        self.engine.execute(queries.done_sql(self._ladder))

    def _prepare(self, flt: Filter) -> None:
        self._snapshot()
        self._select(flt)

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.engine.rows(sql, params)

    def _entered(self) -> dict[str, int]:
        return {str(p): int(n) for p, n in self._rows(queries.MEMBERS)}

    # -- metrics (each one after `_prepare`) ------------------------------------------------

    def _ttfv(self, flt: Filter) -> list[TtfvResult]:
        groups: dict[tuple[str, str], list[Distribution]] = {}
        for playbook_id, group, key, users, median, p90 in self._rows(queries.ttfv_sql(self._ladder)):
            groups.setdefault((playbook_id, group), []).append(
                Distribution(key=key, users=users, median_hours=median, p90_hours=p90)
            )
        entered = self._entered()
        results = []
        for p in self.chosen_playbooks(flt):
            if not p.first_value:
                continue
            [overall] = groups.get((p.id, "all"), [Distribution(users=0, median_hours=None, p90_hours=None)])
            bins = {int(d.key): d.users for d in groups.get((p.id, "bin"), [])}
            results.append(
                TtfvResult(
                    playbook_id=p.id,
                    first_value=p.first_value,
                    entered=entered.get(p.id, 0),
                    reached=overall.users,
                    overall=overall,
                    by_cohort=groups.get((p.id, "cohort"), []),
                    by_role=groups.get((p.id, "role"), []),
                    histogram=[HistogramBin(label=label, count=bins.get(i, 0)) for i, label in enumerate(HISTOGRAM)],
                )
            )
        return results

    def _funnels(self, flt: Filter) -> list[FunnelResult]:
        found = {str(r[0]): r[1:] for r in self._rows(queries.funnel_sql(self._ladder))}
        empty = (0,) + (0, 0, None) * self._ladder
        return [self._funnel(p, found.get(p.id, empty)) for p in self.chosen_playbooks(flt)]

    def _variant_funnels(self, flt: Filter) -> list[FunnelResult]:
        chosen = {p.id: p for p in self.chosen_playbooks(flt)}
        results = []
        for playbook_id, experiment, variant, *counts in self._rows(queries.funnel_sql(self._ladder, by_variant=True)):
            playbook = chosen.get(str(playbook_id))
            if playbook is not None:
                funnel = self._funnel(playbook, tuple(counts))
                results.append(funnel.model_copy(update={"experiment": experiment, "variant": variant}))
        return results

    def _funnel(self, p: Playbook, counts: tuple[Any, ...]) -> FunnelResult:
        total, *per_step = counts
        previous, steps = total, []
        for n, milestone in enumerate(p.milestones):
            reached, any_order, median = per_step[3 * n : 3 * n + 3]
            steps.append(
                FunnelStep(
                    milestone_id=milestone.id,
                    title=milestone.title,
                    reached=reached,
                    completed_any_order=any_order,
                    conversion_from_previous=reached / previous if previous else None,
                    conversion_from_start=reached / total if total else None,
                    drop_off=previous - reached,
                    median_hours_from_previous=median,
                )
            )
            previous = reached
        return FunnelResult(playbook_id=p.id, entered=total, steps=steps)

    def _cohorts(self, flt: Filter, windows: Sequence[int], as_of: datetime | None) -> list[CohortResult]:
        days, width = list(windows), self._ladder + 1
        weeks: dict[str, list[tuple[Any, ...]]] = {}
        for row in self._rows(queries.cohorts_sql(self._ladder, days), {"as_of": as_of}):
            weeks.setdefault(str(row[0]), []).append(row[1:])
        results = []
        for p in self.chosen_playbooks(flt):
            rows = []
            for week, users, *counts in weeks.get(p.id, []):
                cells = []
                for n, milestone in enumerate(p.milestones):
                    for i, d in enumerate(days):
                        eligible, completed = int(counts[i * width]), int(counts[i * width + 1 + n])
                        share = completed / eligible if eligible else None
                        cells.append(
                            CohortCell(
                                milestone_id=milestone.id, days=d, eligible=eligible, completed=completed, share=share
                            )
                        )
                rows.append(CohortRow(week=week, users=users, cells=cells))
            milestones = [m.id for m in p.milestones]
            results.append(CohortResult(playbook_id=p.id, windows=days, milestones=milestones, rows=rows))
        return results

    def _retention(self, windows: Sequence[int], as_of: datetime | None) -> list[RetentionRow]:
        days = list(windows)
        rows = []
        for week, users, *counts in self._rows(queries.retention_sql(days), {"as_of": as_of}):
            cells = []
            for i, d in enumerate(days):
                eligible, active = int(counts[2 * i]), int(counts[2 * i + 1])
                cells.append(
                    RetentionCell(
                        days=d, eligible=eligible, active=active, share=active / eligible if eligible else None
                    )
                )
            rows.append(RetentionRow(week=week, users=int(users), cells=cells))
        return rows

    def _value(self, windows: Sequence[int], as_of: datetime | None) -> list[ValueRow]:
        days = list(windows)
        params = {"as_of": as_of, "expansion": self.value_events.expansion, "advocacy": self.value_events.advocacy}
        rows = []
        for week, users, *counts in self._rows(queries.value_sql(days), params):
            cells = []
            for i, d in enumerate(days):
                eligible, expanded, advocates = (int(n) for n in counts[3 * i : 3 * i + 3])
                cells.append(
                    ValueCell(
                        days=d,
                        eligible=eligible,
                        expanded=expanded,
                        expansion_share=expanded / eligible if eligible else None,
                        advocates=advocates,
                        advocacy_share=advocates / eligible if eligible else None,
                    )
                )
            rows.append(ValueRow(week=week, users=int(users), cells=cells))
        return rows

    def _ttfv_trends(self, as_of: datetime | None) -> list[TtfvTrend]:
        if as_of is None:
            return []
        recent = as_of - timedelta(days=60)  # the latest 30-day signup window whose 30 days are over
        trends = []
        for playbook_id, *counts in self._rows(queries.ttfv_trend_sql(self._ladder), {"recent": recent}):
            users, reached, median, before_users, before_reached, before_median = counts
            trends.append(
                TtfvTrend(
                    playbook_id=str(playbook_id),
                    recent_from=recent,
                    recent_users=int(users),
                    recent_reached=int(reached),
                    recent_median_hours=median,
                    before_users=int(before_users),
                    before_reached=int(before_reached),
                    before_median_hours=before_median,
                )
            )
        return trends

    def _accounts(self, flt: Filter) -> list[AccountStep]:
        found = {(str(p), str(m)): counts for p, m, *counts in self._rows(queries.accounts_sql(self._ladder))}
        steps = []
        for p in self.chosen_playbooks(flt):
            for milestone in p.milestones:
                accounts, any_member, all_members, two = found.get((p.id, milestone.id), (0, 0, 0, 0))
                if accounts:
                    steps.append(
                        AccountStep(
                            playbook_id=p.id,
                            milestone_id=milestone.id,
                            title=milestone.title,
                            accounts=accounts,
                            any_member=any_member,
                            all_members=all_members,
                            two_or_more=two,
                        )
                    )
        return steps

    def _feedback(self, flt: Filter) -> list[FeedbackStep]:
        titles = {(p.id, m.id): m.title for p in self.playbooks for m in p.milestones}
        return [
            FeedbackStep(
                playbook_id=str(p),
                milestone_id=str(m),
                title=titles.get((str(p), str(m)), str(m)),
                kind=str(kind),
                variant=str(variant),
                scale=int(scale),
                answers=int(answers),
                mean_rating=float(mean),
                satisfied=int(satisfied) / int(answers),
                comments=int(comments),
            )
            for p, m, kind, variant, scale, answers, mean, satisfied, comments in self._rows(
                queries.FEEDBACK, {"playbook": flt.playbook}
            )
        ]

    def _comments(self, flt: Filter, limit: int = COMMENTS_SHOWN) -> list[FeedbackComment]:
        rows = self._rows(queries.COMMENTS, {"playbook": flt.playbook, "limit": limit})
        return [
            FeedbackComment(
                at=at,
                role=str(role),
                playbook_id=str(p),
                milestone_id=str(m),
                kind=str(kind),
                variant=str(variant),
                rating=int(rating),
                scale=int(scale),
                comment=str(comment),
            )
            for at, role, p, m, kind, variant, rating, scale, comment in rows
        ]

    def feedback(self, flt: Filter | None = None) -> tuple[list[FeedbackStep], list[FeedbackComment]]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._feedback(flt), self._comments(flt)

    def accounts(self, flt: Filter | None = None) -> list[AccountStep]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._accounts(flt)

    def _adoption(self, flt: Filter, days: int, as_of: datetime | None) -> list[AdoptionRow]:
        self.engine.execute(queries.ADOPTION_UNLOCKED, {"days": days, "as_of": as_of})
        found = {(p, m): counts for p, m, *counts in self._rows(queries.ADOPTION, {"days": days})}
        rows = []
        for p in self.chosen_playbooks(flt):
            targets = {t for m in p.milestones for t in p.unlocked_by(m)}
            for milestone in (m for m in p.milestones if m.id in targets):
                unlocked, eligible, adopted = found.get((p.id, milestone.id), (0, 0, 0))
                rows.append(
                    AdoptionRow(
                        playbook_id=p.id,
                        milestone_id=milestone.id,
                        event=milestone.when.event,
                        days=days,
                        unlocked=unlocked,
                        eligible=eligible,
                        adopted=adopted,
                        share=adopted / eligible if eligible else None,
                    )
                )
        return rows

    def _repeat_usage(self, flt: Filter) -> list[RepeatRow]:
        events = list(dict.fromkeys(m.when.event for p in self.chosen_playbooks(flt) for m in p.milestones))
        everyone = flt.role is None and flt.signup_from is None and flt.signup_to is None
        found = {e: counts for e, *counts in self._rows(queries.repeat_usage_sql(everyone), {"events": events})}
        rows = []
        for event in events:
            users, repeat, median = found.get(event, (0, 0, None))
            share = repeat / users if users else None
            rows.append(RepeatRow(event=event, users=users, repeat_users=repeat, share=share, median_uses=median))
        return rows

    def _nudges(
        self, flt: Filter, hours: int, as_of: datetime | None, holdout_variants: frozenset[str]
    ) -> list[NudgeEffect]:
        params = {"hours": hours, "as_of": as_of, "holdout": sorted(holdout_variants)}
        found = {(p, m, g): (n, c) for p, m, g, n, c in self._rows(queries.NUDGES, params)}
        effects = []
        for p in self.chosen_playbooks(flt):
            for milestone in p.milestones:
                nudged_counts = found.get((p.id, milestone.id, "nudged"), (0, 0))
                holdout_counts = found.get((p.id, milestone.id, "holdout"), (0, 0))
                if not (nudged_counts[0] or holdout_counts[0]):
                    continue
                nudged, holdout = rate("nudged", *nudged_counts), rate("holdout", *holdout_counts)
                effects.append(
                    NudgeEffect(
                        playbook_id=p.id,
                        milestone_id=milestone.id,
                        hours=hours,
                        nudged=nudged,
                        holdout=holdout,
                        lift=compare(nudged, holdout),
                    )
                )
        return effects

    def _experiments(self, flt: Filter, within_days: int | None, control: str | None) -> list[ExperimentResult]:
        params = {"playbook": flt.playbook, "within": within_days, "as_of": self.latest_at}
        by_name: dict[str, dict[str, Any]] = {}
        for name, variant, users, converted, conflicts, playbook_ids, metrics in self._rows(
            queries.EXPERIMENTS, params
        ):
            found = by_name.setdefault(name, {"counts": {}, "conflicts": 0, "playbooks": set(), "metrics": set()})
            found["counts"][variant] = (users, converted)
            found["conflicts"] += conflicts
            found["playbooks"].update(playbook_ids)
            found["metrics"].update(metrics)
        return [
            experiment_result(
                name,
                found["counts"],
                conflicts=found["conflicts"],
                playbook_ids=found["playbooks"],
                metrics=found["metrics"],
                filtered_playbook=flt.playbook,
                control=control,
                expected_shares=self._expected_shares(name),
                metric=self._metric_label(name),
            )
            for name, found in sorted(by_name.items())
        ]

    def _owner(self, experiment_id: str) -> tuple[Playbook, Experiment] | None:
        """The playbook that defines the experiment, and its definition."""
        for p in self.playbooks:
            if p.experiment is not None and p.experiment.id == experiment_id:
                return p, p.experiment
        return None

    def _metric_label(self, experiment_id: str) -> str | None:
        """What the playbook says the experiment is judged on, in words."""
        owner = self._owner(experiment_id)
        if owner is None:
            return None
        playbook, experiment = owner
        metric = experiment.metric
        if metric.active_on_day is not None:
            return f"active on day {metric.active_on_day} after exposure"
        milestone = metric.milestone or playbook.first_value
        window = f" within {format_duration(metric.within)}" if metric.within is not None else ""
        return f"reached {milestone}{window} after exposure" if milestone else None

    def _expected_shares(self, experiment_id: str) -> dict[str, float] | None:
        """The share of entering users each variant (and the holdout) should get, from the playbook."""
        owner = self._owner(experiment_id)
        if owner is None:
            return None
        _, experiment = owner
        total = sum(v.weight for v in experiment.variants)
        shares = {v.name: (1 - experiment.holdout) * v.weight / total for v in experiment.variants}
        if experiment.holdout:
            shares[HOLDOUT] = experiment.holdout
        return shares

    # -- public queries --------------------------------------------------------------------

    def ttfv(self, flt: Filter | None = None) -> list[TtfvResult]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._ttfv(flt)

    def funnels(self, flt: Filter | None = None) -> list[FunnelResult]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._funnels(flt)

    def cohorts(
        self, flt: Filter | None = None, windows: Sequence[int] = WINDOWS, as_of: datetime | None = None
    ) -> list[CohortResult]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._cohorts(flt, windows, as_of or self.latest_at)

    def retention(
        self, flt: Filter | None = None, windows: Sequence[int] = RETENTION_DAYS, as_of: datetime | None = None
    ) -> list[RetentionRow]:
        """D1/D7/D30 active, per signup week and overall (docs/analytics.md)."""
        self._prepare(flt or Filter())
        return self._retention(windows, as_of or self.latest_at)

    def value(
        self, flt: Filter | None = None, windows: Sequence[int] = VALUE_DAYS, as_of: datetime | None = None
    ) -> list[ValueRow]:
        """Expansion and advocacy within 30 and 90 days of signup, per signup week and overall."""
        self._prepare(flt or Filter())
        return self._value(windows, as_of or self.latest_at)

    def adoption(self, flt: Filter | None = None, days: int = 7, as_of: datetime | None = None) -> list[AdoptionRow]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._adoption(flt, days, as_of or self.latest_at)

    def repeat_usage(self, flt: Filter | None = None) -> list[RepeatRow]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._repeat_usage(flt)

    def nudges(
        self,
        flt: Filter | None = None,
        hours: int = 48,
        as_of: datetime | None = None,
        holdout_variants: frozenset[str] = HOLDOUT_VARIANTS,
    ) -> list[NudgeEffect]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._nudges(flt, hours, as_of or self.latest_at, holdout_variants)

    def experiments(
        self, flt: Filter | None = None, within_days: int | None = None, control: str | None = None
    ) -> list[ExperimentResult]:
        flt = flt or Filter()
        self._prepare(flt)
        return self._experiments(flt, within_days, control)

    def report(self, flt: Filter | None = None, *, adoption_days: int = 7, nudge_hours: int = 48) -> Report:
        """Everything at once, for the dashboard, `nudgeflow report` and the digest."""
        flt = flt or Filter()
        as_of = self.latest_at
        self._prepare(flt)
        report = Report(
            as_of=as_of,
            filter=flt,
            playbooks=[p.id for p in self.playbooks],
            roles=[str(r[0]) for r in self._rows(queries.ROLES)],
            ttfv=self._ttfv(flt),
            funnels=self._funnels(flt),
            variant_funnels=self._variant_funnels(flt),
            cohorts=self._cohorts(flt, WINDOWS, as_of),
            retention=self._retention(RETENTION_DAYS, as_of),
            value=self._value(VALUE_DAYS, as_of),
            accounts=self._accounts(flt),
            feedback=self._feedback(flt),
            comments=self._comments(flt),
            adoption=self._adoption(flt, adoption_days, as_of),
            repeat_usage=self._repeat_usage(flt),
            nudges=self._nudges(flt, nudge_hours, as_of, HOLDOUT_VARIANTS),
            experiments=self._experiments(flt, None, None),
        )
        chosen = self.chosen_playbooks(flt)
        trends = [t for t in self._ttfv_trends(as_of) if any(p.id == t.playbook_id for p in chosen)]
        report.summary = executive_summary(report, chosen, trends)
        return report

    # -- for the digest --------------------------------------------------------------------

    def signups(self, start: datetime, end: datetime) -> int:
        """Users whose first record falls in [start, end)."""
        self._snapshot()
        return int(self._scalar(queries.SIGNUPS, {"start": start, "end": end}))

    def active_on_day(self, start: datetime, end: datetime, day: int) -> tuple[float | None, int]:
        """Of the users who signed up in [start, end): the share active on day `day` (retention's
        definition), and how many they were. The caller picks a range whose day is over."""
        self._snapshot()
        params = {"start": start, "end": end, "day": day}
        [(users, active)] = self._rows(queries.ACTIVE_ON_DAY, params)
        return (active / users if users else None), int(users)

    def share_within(self, playbook: Playbook, start: datetime, end: datetime, days: int) -> tuple[float | None, int]:
        """Of the playbook's users who signed up in [start, end): the share who reached its first
        value within `days` of signup, and how many they were."""
        self._prepare(Filter())
        params = {"playbook": playbook.id, "milestone": playbook.first_value, "start": start, "end": end, "days": days}
        [(users, hits)] = self._rows(queries.SHARE_WITHIN, params)
        return (hits / users if users else None), int(users)
