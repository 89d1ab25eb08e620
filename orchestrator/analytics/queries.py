"""The metrics as SQL (DuckDB dialect), over the `events` and `outcomes` tables.

A report first builds a few temporary tables (one row per user, per user and milestone, per
user and experiment: `SNAPSHOT`), then the filter's users, their playbooks and one row per
member with the completion time of each ladder step (`SELECTION`, `PLAYBOOK_MEMBERS`,
`done_sql`), then each metric is one aggregate query over those. Parameters are named (`$as_of`, ...).
Percentiles are `quantile_cont` (linear interpolation, like a spreadsheet's PERCENTILE.INC).
Times are TIMESTAMPTZ in a UTC session: weeks are ISO weeks (Monday) and days are UTC days.
An inner join names the larger table first: ClickHouse builds its hash table from the right-hand
side as written (DuckDB chooses for itself), and at 10 M users `_facts` is ~50 M rows.
"""

from __future__ import annotations

HOURS = "(greatest(0, datediff('microsecond', {start}, {end})) / 3600e6)"

# Per-user facts that do not depend on the filter.
SNAPSHOT = """
-- One pass over the outcomes: per user, playbook and milestone (NULLs included: exposures have no
-- milestone), the first of each kind of fact, and the first outcome of any kind.
CREATE OR REPLACE TEMP TABLE _facts AS
SELECT user_id, playbook_id, milestone_id,
       min(occurred_at) AS first_at,
       min(occurred_at) FILTER (kind = 'milestone_completed') AS completed_at,
       min(occurred_at) FILTER (kind = 'milestone_unlocked') AS unlocked_at,
       min(occurred_at) FILTER (kind IN ('delivered', 'delivery_requested') AND delivery_kind = 'nudge')
           AS nudged_at,
       min(occurred_at) FILTER (kind = 'delivery_suppressed' AND delivery_kind = 'nudge'
                                AND reason = 'holdout') AS held_out_at,
       min(due_at) FILTER (kind = 'nudge_scheduled') AS nudge_due
FROM outcomes
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE _users AS
WITH per_user AS (  -- one pass over the events: first event, and the identify calls
    SELECT user_id, min(ts) AS first_at,
           count(*) FILTER (type = 'identify' AND json_type(traits) = 'OBJECT') AS n,
           arg_max(traits, (ts, message_id)) FILTER (type = 'identify' AND json_type(traits) = 'OBJECT') AS last,
           arg_max(traits, (ts, message_id)) FILTER (type = 'group') AS account  -- the latest group call
    FROM events GROUP BY user_id
), first_event AS (
    SELECT user_id, first_at FROM per_user
), first_outcome AS (
    SELECT user_id, min(first_at) AS first_at FROM _facts GROUP BY user_id
), identifies AS (
    SELECT user_id, n, last FROM per_user WHERE n > 0
), pairs AS (  -- several identify calls: each trait's latest value (by event time, then messageId)
    SELECT user_id, ts, message_id, unnest(json_keys(traits)) AS k, traits
    FROM events JOIN identifies USING (user_id)
    WHERE identifies.n > 1 AND type = 'identify' AND json_type(traits) = 'OBJECT'
), latest AS (
    SELECT user_id, k, arg_max(trait_value(traits, k), (ts, message_id)) AS v
    FROM pairs GROUP BY user_id, k
), traits AS (
    SELECT user_id, '{' || string_agg(to_json(k)::VARCHAR || ':' || v::VARCHAR, ',' ORDER BY k) || '}' AS traits
    FROM latest GROUP BY user_id
    UNION ALL
    SELECT user_id, last::VARCHAR FROM identifies WHERE n = 1 AND last::VARCHAR <> '{}'
), active AS (  -- the days after signup with a track call (day 0 is the first 24 h); signup is the
    -- first event, so every one of a user's events falls on or after it
    SELECT e.user_id, list(DISTINCT floor(datediff('microsecond', p.first_at, e.ts) / 86400e6)::INTEGER) AS days
    FROM events e JOIN per_user p USING (user_id)
    WHERE e.type = 'track'
    GROUP BY e.user_id
)
SELECT user_id, coalesce(e.first_at, o.first_at) AS signup_at,
       coalesce(json_extract_string(t.traits, '$.role'), 'unknown') AS role,
       t.traits,  -- identify traits only: with each account's own, distinct trait sets (audiences) would explode
       json_extract_string(a.account, '$.account_id') AS account_id,
       coalesce(d.days, []) AS active_days
FROM first_event e FULL OUTER JOIN first_outcome o USING (user_id) LEFT JOIN traits t USING (user_id)
LEFT JOIN (SELECT user_id, account FROM per_user WHERE account IS NOT NULL) a USING (user_id)
LEFT JOIN active d USING (user_id);

CREATE OR REPLACE TEMP TABLE _exposures AS
WITH seen AS (
    SELECT user_id, experiment, variant, occurred_at AS exposed_at, playbook_id, outcome_id
    FROM outcomes
    WHERE kind = 'exposure' AND coalesce(experiment, '') <> '' AND coalesce(variant, '') <> ''
)
SELECT user_id, experiment, variant, exposed_at, playbook_id,
       count(DISTINCT variant) OVER (PARTITION BY user_id, experiment) AS variants_seen
FROM seen
QUALIFY row_number() OVER (PARTITION BY user_id, experiment ORDER BY exposed_at, outcome_id) = 1;
"""

# The snapshot's tables, kept in the database file (`snapshot.py`) so a report need not rebuild them.
SNAPSHOT_TABLES = ("_facts", "_users", "_exposures")
# Who is in which playbook by its outcomes: depends on the playbooks, so built by every report.
IN_PLAYBOOK = """
CREATE OR REPLACE TEMP TABLE _in_playbook AS
SELECT DISTINCT f.user_id, f.playbook_id FROM _facts f SEMI JOIN _playbooks p ON p.playbook_id = f.playbook_id;
"""

# The filter's users (`_sel`) and which playbooks they are in (`_members`): an outcome of the
# playbook, or traits matching its audience (`_audience` holds the matching trait sets).
SELECTION = """
CREATE OR REPLACE TEMP TABLE _sel AS
SELECT * FROM _users
WHERE signup_at IS NOT NULL
  AND ($role IS NULL OR role = $role)
  AND ($start IS NULL OR signup_at >= $start)
  AND ($end IS NULL OR signup_at < $end);
"""
PLAYBOOK_MEMBERS = """
CREATE OR REPLACE TEMP TABLE _members AS
SELECT i.playbook_id, s.user_id, s.signup_at, s.role, s.account_id FROM _in_playbook i JOIN _sel s USING (user_id)
UNION
SELECT a.playbook_id, s.user_id, s.signup_at, s.role, s.account_id
FROM _sel s JOIN _audience a ON a.traits = s.traits AND (a.user_id IS NULL OR a.user_id = s.user_id);
"""

MEMBERS = "SELECT playbook_id, count(*) FROM _members GROUP BY ALL"


def done_sql(steps: int) -> str:
    """One row per member: when they completed each step of their ladder (`c1` .. `cN`, NULL if not)."""
    columns = ", ".join(f"max(f.completed_at) FILTER (s.position = {k}) AS c{k}" for k in range(1, steps + 1))
    return f"""
    CREATE OR REPLACE TEMP TABLE _done AS
    WITH completed AS (  -- per user and playbook: one row, the steps as columns
        SELECT f.user_id, f.playbook_id, {columns}
        FROM _facts f JOIN _steps s USING (playbook_id, milestone_id) WHERE f.completed_at IS NOT NULL
        GROUP BY f.user_id, f.playbook_id
    )
    SELECT m.playbook_id, m.user_id, m.signup_at, m.role, m.account_id, date_trunc('week', m.signup_at)::DATE AS week,
           {", ".join(f"d.c{k}" for k in range(1, steps + 1))}
    FROM _members m LEFT JOIN completed d ON d.user_id = m.user_id AND d.playbook_id = m.playbook_id
    """


def _first_value_at(steps: int) -> str:
    whens = " ".join(f"WHEN {k} THEN d.c{k}" for k in range(1, steps + 1))
    return f"CASE p.first_position {whens} END"


def ttfv_sql(steps: int) -> str:
    """Signup (first record) to completing the playbook's first value: overall, by cohort, by role,
    and the histogram's bins."""
    reached = f"""
    WITH reached AS (
        SELECT d.playbook_id, d.role, d.week::VARCHAR AS week,
               {HOURS.format(start="d.signup_at", end=_first_value_at(steps))} AS hours
        FROM _done d JOIN _playbooks p USING (playbook_id)
        WHERE {_first_value_at(steps)} IS NOT NULL
    )"""
    return f"""{reached}
    SELECT playbook_id,
           CASE WHEN grouping(week) = 0 THEN 'cohort' WHEN grouping(role) = 0 THEN 'role'
                WHEN grouping(bin) = 0 THEN 'bin' ELSE 'all' END AS grp,
           coalesce(week, role, bin::VARCHAR, 'all') AS key,
           count(*), quantile_cont(hours, 0.5), quantile_cont(hours, 0.9)
    FROM (SELECT *, CASE WHEN hours < 1 THEN 0 WHEN hours < 4 THEN 1 WHEN hours < 24 THEN 2 WHEN hours < 72 THEN 3
                         WHEN hours < 168 THEN 4 WHEN hours < 720 THEN 5 ELSE 6 END AS bin FROM reached)
    GROUP BY GROUPING SETS ((playbook_id), (playbook_id, week), (playbook_id, role), (playbook_id, bin))
    ORDER BY playbook_id, grp, key
    """


def ttfv_trend_sql(steps: int) -> str:
    """Per playbook, for the signups of `[$recent, $recent + 30 d)` and of the 30 days before: members,
    those who reached first value within 30 days of signup, and their median hours. Both cohorts are
    watched for the same 30 days, so a young cohort's missing slow users don't flatter it."""
    hours = HOURS.format(start="d.signup_at", end=_first_value_at(steps))
    within = f"{_first_value_at(steps)} <= d.signup_at + INTERVAL 30 DAY"
    columns = []
    for start, end in (("$recent", "$recent + INTERVAL 30 DAY"), ("$recent - INTERVAL 30 DAY", "$recent")):
        cohort = f"d.signup_at >= {start} AND d.signup_at < {end}"
        columns += [
            f"count(*) FILTER ({cohort})",
            f"count(*) FILTER ({cohort} AND {within})",
            f"quantile_cont({hours}, 0.5) FILTER ({cohort} AND {within})",
        ]
    return f"""
    SELECT d.playbook_id, {", ".join(columns)}
    FROM _done d JOIN _playbooks p USING (playbook_id)
    GROUP BY d.playbook_id ORDER BY d.playbook_id
    """


def funnel_sql(steps: int, *, by_variant: bool = False) -> str:
    """Strict ladder: step k counts members who completed steps 1..k (in any time order); per step
    `reached_k`, `any_k` (completed it at all), `median_k` (hours from the previous step, or signup).
    `by_variant`: one funnel per experiment variant of the playbook (its exposed members)."""
    columns = []
    for k in range(1, steps + 1):
        reached = " AND ".join(f"c{i} IS NOT NULL" for i in range(1, k + 1))
        start = f"c{k - 1}" if k > 1 else "signup_at"
        columns.append(
            f"count(*) FILTER ({reached}), count(c{k}), "
            f"quantile_cont({HOURS.format(start=start, end=f'c{k}')}, 0.5) FILTER ({reached})"
        )
    if by_variant:
        return f"""
        SELECT d.playbook_id, x.experiment, x.variant, count(*), {", ".join(columns)}
        FROM _done d JOIN _exposures x ON x.user_id = d.user_id AND x.playbook_id = d.playbook_id
        GROUP BY ALL ORDER BY ALL
        """
    return f"SELECT playbook_id, count(*), {', '.join(columns)} FROM _done GROUP BY playbook_id"


def cohorts_sql(steps: int, windows: list[int]) -> str:
    """Per signup week: users, then for each window `eligible` (its window is over by `$as_of`) and
    for each step `completed` within the window (among the eligible)."""
    columns = []
    for d in windows:
        deadline = f"signup_at + INTERVAL {d} DAY"
        columns.append(f"count(*) FILTER ({deadline} <= $as_of)")
        columns += [f"count(*) FILTER ({deadline} <= $as_of AND c{k} <= {deadline})" for k in range(1, steps + 1)]
    return f"SELECT playbook_id, week, count(*), {', '.join(columns)} FROM _done GROUP BY ALL ORDER BY ALL"


def retention_sql(windows: list[int]) -> str:
    """Per signup week of the selected users: users, then for each day D `eligible` (signup + D + 1
    days ≤ `$as_of`) and `active` (of those, sent a track call in the 24 h from signup + D days:
    `active_days`, kept per user by the snapshot)."""
    counts = []
    for d in windows:
        decided = f"signup_at + INTERVAL {d + 1} DAY <= $as_of"
        counts += [f"count(*) FILTER ({decided})", f"count(*) FILTER ({decided} AND list_contains(active_days, {d}))"]
    return f"""
    SELECT date_trunc('week', signup_at)::DATE AS week, count(*), {", ".join(counts)}
    FROM _sel GROUP BY ROLLUP (week) ORDER BY week NULLS LAST
    """


def value_sql(windows: list[int]) -> str:
    """Per signup week of the selected users: users, then for each D `eligible` (signup + D days ≤
    `$as_of`), `expanded` and `advocates` (of those, sent one of `$expansion` / `$advocacy` within D days)."""
    counts = []
    for d in windows:
        decided = f"signup_at + INTERVAL {d} DAY <= $as_of"
        counts += [
            f"count(*) FILTER ({decided})",
            f"count(*) FILTER ({decided} AND expanded_at <= signup_at + INTERVAL {d} DAY)",
            f"count(*) FILTER ({decided} AND advocated_at <= signup_at + INTERVAL {d} DAY)",
        ]
    return f"""
    WITH per_user AS (
        SELECT s.user_id, s.signup_at, date_trunc('week', s.signup_at)::DATE AS week,
               min(e.ts) FILTER (list_contains($expansion, e.event)) AS expanded_at,
               min(e.ts) FILTER (list_contains($advocacy, e.event)) AS advocated_at
        FROM _sel s LEFT JOIN events e
          ON e.user_id = s.user_id AND e.type = 'track'
         AND (list_contains($expansion, e.event) OR list_contains($advocacy, e.event))
        GROUP BY ALL
    )
    SELECT week, count(*), {", ".join(counts)} FROM per_user GROUP BY ROLLUP (week) ORDER BY week NULLS LAST
    """


def accounts_sql(steps: int) -> str:
    """Per playbook step, the accounts (the `account_id` trait a group call sets) of its members: how
    many have at least one member, every member, or at least two members who completed it."""
    counts = ", ".join(f"count(c{k}) AS n{k}" for k in range(1, steps + 1))
    completed = " ".join(f"WHEN {k} THEN a.n{k}" for k in range(1, steps + 1))
    return f"""
    WITH per_account AS (
        SELECT playbook_id, account_id, count(*) AS members, {counts}
        FROM _done WHERE account_id IS NOT NULL GROUP BY ALL
    ), per_step AS (
        SELECT a.playbook_id, st.milestone_id, a.members, CASE st.position {completed} END AS completed
        FROM per_account a JOIN _steps st ON st.playbook_id = a.playbook_id
    )
    SELECT playbook_id, milestone_id, count(*), count(*) FILTER (completed >= 1),
           count(*) FILTER (completed = members), count(*) FILTER (completed >= 2)
    FROM per_step GROUP BY ALL ORDER BY ALL
    """


# Micro-survey answers (`survey_answered` outcomes) of the filter's users, with the variant of the
# playbook's experiment each user saw ('' when none). A user's answer to one prompt counts once.
_ANSWERS = """
WITH variants AS (
    SELECT user_id, playbook_id, arg_max(variant, exposed_at) AS variant FROM _exposures GROUP BY ALL
), answers AS (
    SELECT o.playbook_id, o.milestone_id, coalesce(o.delivery_kind, '') AS kind, s.role,
           coalesce(v.variant, '') AS variant, o.rating, o.scale, o.comment, o.occurred_at
    FROM outcomes o JOIN _sel s USING (user_id)
    LEFT JOIN variants v ON v.user_id = o.user_id AND v.playbook_id = o.playbook_id
    WHERE o.kind = 'survey_answered' AND o.scale BETWEEN 2 AND 10 AND o.rating BETWEEN 1 AND o.scale
      AND ($playbook IS NULL OR o.playbook_id = $playbook)
)
"""
# Per step, message kind, variant and scale: answers, mean rating, and satisfied (rating >= 80% of the scale).
FEEDBACK = (
    _ANSWERS
    + """
SELECT playbook_id, milestone_id, kind, variant, scale, count(*), avg(rating),
       count(*) FILTER (rating >= 0.8 * scale), count(comment)
FROM answers GROUP BY ALL ORDER BY ALL
"""
)
# The newest comments, with who (role) and where (step, kind, variant) they came from.
COMMENTS = (
    _ANSWERS
    + """
SELECT occurred_at, role, playbook_id, milestone_id, kind, variant, rating, scale, comment
FROM answers WHERE coalesce(trim(comment), '') <> '' ORDER BY occurred_at DESC, comment LIMIT $limit
"""
)


# Of the members who unlocked a milestone: used its event within `$days` after the unlock. The
# unlocks are a table of their own (`_unlocked`): read twice, and ClickHouse would compute a CTE twice.
ADOPTION_UNLOCKED = """
CREATE OR REPLACE TEMP TABLE _unlocked AS
SELECT t.playbook_id, t.milestone_id, t.event, f.user_id, f.unlocked_at,
       f.unlocked_at + to_days($days) <= $as_of AS decided
FROM _facts f JOIN _targets t USING (playbook_id, milestone_id)
JOIN _members m ON m.playbook_id = f.playbook_id AND m.user_id = f.user_id
WHERE f.unlocked_at IS NOT NULL
"""
ADOPTION = """
WITH totals AS (
    SELECT playbook_id, milestone_id, count(*) AS unlocked, count(*) FILTER (decided) AS decided
    FROM _unlocked GROUP BY ALL
), adopted AS (  -- each decided unlock once, however often its event was used
    SELECT u.playbook_id, u.milestone_id, count(*) AS adopted
    FROM _unlocked u SEMI JOIN (SELECT user_id, event, ts FROM events WHERE type = 'track') e
      ON e.user_id = u.user_id AND e.event = u.event
     AND e.ts >= u.unlocked_at AND e.ts <= u.unlocked_at + to_days($days)
    WHERE u.decided
    GROUP BY ALL
)
SELECT t.playbook_id, t.milestone_id, t.unlocked, t.decided, coalesce(a.adopted, 0)
FROM totals t LEFT JOIN adopted a ON a.playbook_id = t.playbook_id AND a.milestone_id = t.milestone_id
"""


def repeat_usage_sql(everyone: bool) -> str:
    """Uses of each ladder event by the filter's users (all of them: no join): repeat = on two or
    more UTC days, i.e. the first and the last use fall on different days."""
    selected = "" if everyone else "SEMI JOIN _sel USING (user_id)"
    return f"""
    WITH per_user AS (
        SELECT e.event, e.user_id, count(*) AS uses, min(e.ts)::DATE <> max(e.ts)::DATE AS repeated
        FROM events e {selected}
        WHERE e.type = 'track' AND list_contains($events, e.event)
        GROUP BY ALL
    )
    SELECT event, count(*), count(*) FILTER (repeated), quantile_cont(uses, 0.5) FROM per_user GROUP BY event
    """


# Nudged members vs held-out ones, from the (would-be) nudge on: completed within `$hours`.
NUDGES = """
WITH held AS (  -- members in a holdout variant of their playbook's experiment (or of one for every playbook)
    SELECT DISTINCT m.user_id, m.playbook_id
    FROM _members m JOIN _exposures x ON x.user_id = m.user_id
    WHERE list_contains($holdout, x.variant) AND (x.playbook_id IS NULL OR x.playbook_id = m.playbook_id)
), anchored AS (
    SELECT m.playbook_id, f.milestone_id, f.completed_at AS done,
           CASE WHEN f.nudged_at IS NOT NULL THEN 'nudged' ELSE 'holdout' END AS grp,
           coalesce(f.nudged_at, f.held_out_at,
                    CASE WHEN ($as_of IS NULL OR f.nudge_due <= $as_of) AND h.user_id IS NOT NULL
                    THEN f.nudge_due END) AS anchor
    FROM _facts f JOIN _steps s USING (playbook_id, milestone_id) JOIN _members m USING (playbook_id, user_id)
    LEFT JOIN held h ON h.user_id = m.user_id AND h.playbook_id = m.playbook_id
)
SELECT playbook_id, milestone_id, grp,
       count(*) FILTER (anchor + to_hours($hours) <= $as_of),
       count(*) FILTER (anchor + to_hours($hours) <= $as_of AND done <= anchor + to_hours($hours))
FROM anchored
WHERE anchor IS NOT NULL AND NOT coalesce(done < anchor, false)
GROUP BY ALL
"""

# First exposure per user and experiment; converted = completed the exposure's playbook's first
# value at or after exposure (within `$within` days when given).
EXPERIMENTS = """
-- Each experiment is judged on its playbook's metric (`_experiment_metrics`): a milestone (default
-- the first value) reached after the exposure, within `within_seconds` if set (else `$within` days),
-- or a track call on day `active_day` after the exposure (only users whose day is over count).
WITH exposed AS (
    SELECT x.user_id, x.experiment, x.variant, x.exposed_at, x.playbook_id, x.variants_seen,
           coalesce(x.playbook_id, $playbook) AS metric_playbook,
           coalesce(m.milestone_id, p.first_value) AS metric_milestone,
           coalesce(m.within_seconds, $within * 86400.0) AS within_seconds, m.active_day
    FROM _exposures x JOIN _sel USING (user_id)
    LEFT JOIN _playbooks p ON p.playbook_id = coalesce(x.playbook_id, $playbook)
    LEFT JOIN _experiment_metrics m ON m.experiment = x.experiment
    WHERE ($playbook IS NULL OR x.playbook_id IS NULL OR x.playbook_id = $playbook)
      AND (m.active_day IS NULL OR x.exposed_at + to_days(m.active_day + 1) <= $as_of)
), judged AS (
    SELECT e.experiment, e.variant, e.playbook_id, e.metric_milestone, e.variants_seen,
           CASE WHEN e.active_day IS NOT NULL THEN EXISTS (
                    SELECT 1 FROM events v
                    WHERE v.user_id = e.user_id AND v.type = 'track'
                      AND v.ts >= e.exposed_at + to_days(e.active_day)
                      AND v.ts < e.exposed_at + to_days(e.active_day + 1))
                ELSE f.completed_at >= e.exposed_at
                     AND (e.within_seconds IS NULL OR f.completed_at <= e.exposed_at + to_seconds(e.within_seconds))
           END AS converted
    FROM exposed e
    LEFT JOIN _facts f
      ON e.active_day IS NULL AND f.user_id = e.user_id AND f.playbook_id = e.metric_playbook
     AND f.milestone_id = e.metric_milestone
)
SELECT experiment, variant, count(*), count(*) FILTER (converted), count(*) FILTER (variants_seen > 1),
       list(DISTINCT playbook_id) FILTER (playbook_id IS NOT NULL),
       list(DISTINCT metric_milestone) FILTER (metric_milestone IS NOT NULL)
FROM judged
GROUP BY ALL ORDER BY experiment, variant
"""

# For the digest: members of a playbook who signed up in [$start, $end), and how many of them
# completed its first value within `$days` of signup.
SIGNUPS = "SELECT count(*) FROM _users WHERE signup_at >= $start AND signup_at < $end"
SHARE_WITHIN = """
SELECT count(*), count(*) FILTER (f.completed_at <= m.signup_at + to_days($days))
FROM _members m LEFT JOIN _facts f
  ON f.user_id = m.user_id AND f.playbook_id = m.playbook_id AND f.milestone_id = $milestone
WHERE m.playbook_id = $playbook AND m.signup_at >= $start AND m.signup_at < $end
"""

ACTIVE_ON_DAY = """
SELECT count(*), count(*) FILTER (list_contains(active_days, $day))
FROM _users WHERE signup_at >= $start AND signup_at < $end
"""

LATEST = "SELECT greatest((SELECT max(ts) FROM events), (SELECT max(occurred_at) FROM outcomes))"
DUPLICATES = "SELECT coalesce(sum(n), 0) FROM duplicates"
ROLES = "SELECT DISTINCT role FROM _users ORDER BY role"
TRAIT_SETS = "SELECT DISTINCT traits FROM _users WHERE traits IS NOT NULL"
TRAITS_BY_USER = "SELECT user_id, traits FROM _users WHERE traits IS NOT NULL"
