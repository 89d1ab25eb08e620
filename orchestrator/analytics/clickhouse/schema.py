"""ClickHouse's tables of events and outcomes, and how records become rows.

The same columns as the DuckDB store (`analytics/store.py`), so the metrics' SQL reads both. The
tables are ReplacingMergeTree keyed by record id (messageId per user, outcome_id): a record
delivered twice is one row once merged, and the engine reads them with `final = 1` (`engine.py`),
so it counts once before that too. Times are Nullable although never NULL: ClickHouse's `min` of no
rows is NULL only for a Nullable column (else 1970), and the metrics rely on NULL there.

`EVENT_ROWS` / `OUTCOME_ROWS` turn raw records (JSON objects with their nested objects as text) into
rows, with the store's rules: page and screen calls are the track events the rules read them as, a
group call carries `account_id`, records missing what the contract requires are skipped. They read
from `{source}`: a JSONL file (`file_source`), records handed over by the ingester (`raw_table_sql`),
or a Kafka engine table on a server (docs/deploy.md, `kafka_ingest_sql`).
"""

from __future__ import annotations

from pathlib import Path

from nudgeflow.rules.contracts.events import ACCOUNT, ACCOUNT_ID, PAGE_VIEWED, SCREEN_VIEWED

TIME = "DateTime64(6, 'UTC')"
TABLES = f"""
CREATE TABLE IF NOT EXISTS events (
    user_id String, message_id String, type LowCardinality(String), event Nullable(String),
    ts Nullable({TIME}), traits Nullable(String)
) ENGINE = ReplacingMergeTree ORDER BY (user_id, message_id);
CREATE TABLE IF NOT EXISTS outcomes (
    outcome_id String, kind LowCardinality(String), user_id String, occurred_at Nullable({TIME}),
    playbook_id Nullable(String), milestone_id Nullable(String), delivery_kind Nullable(String),
    reason Nullable(String), due_at Nullable({TIME}), experiment Nullable(String), variant Nullable(String),
    rating Nullable(Int32), scale Nullable(Int32), comment Nullable(String)
) ENGINE = ReplacingMergeTree ORDER BY outcome_id;
-- Records seen again and dropped when loaded (a Kafka engine's re-deliveries are merged away instead).
CREATE TABLE IF NOT EXISTS duplicates (topic String, n Int64) ENGINE = SummingMergeTree ORDER BY topic;
-- `analytics ingest --clickhouse`: the next offset of each partition, written after the rows it covers.
CREATE TABLE IF NOT EXISTS offsets (topic String, part Int32, next_offset Int64, written {TIME})
ENGINE = ReplacingMergeTree(written) ORDER BY (topic, part);
"""


def table_statements() -> list[str]:
    """`TABLES` as separate statements (each with its comment), to run or to print."""
    return [statement.strip() for statement in TABLES.split(";") if statement.strip()]


# The raw fields each record is read with (nested objects arrive as their JSON text).
EVENT_FIELDS = (
    "userId Nullable(String), messageId Nullable(String), type Nullable(String), event Nullable(String), "
    "timestamp Nullable(String), traits Nullable(String), groupId Nullable(String)"
)
OUTCOME_FIELDS = (
    "outcome_id Nullable(String), kind Nullable(String), user_id Nullable(String), occurred_at Nullable(String), "
    "playbook_id Nullable(String), milestone_id Nullable(String), attributes Nullable(String)"
)


def _attribute(name: str) -> str:
    """An outcome attribute as text (a string without its quotes, a number as written), NULL if absent or null."""
    raw = f"JSONExtractRaw(coalesce(attributes, '{{}}'), '{name}')"
    return (
        f"if({raw} IN ('', 'null'), NULL, if(startsWith({raw}, '\"'), JSONExtractString(attributes, '{name}'), {raw}))"
    )


_OBJECT = "(startsWith(trimLeft(coalesce(traits, '')), '{') AND trimRight(traits) != '{}')"
_ACCOUNT = (  # the group's traits with its id, like the worker reads a group call
    f"if({_OBJECT}, concat(substring(trimRight(traits), 1, length(trimRight(traits)) - 1), ',\"id\":', "
    f"toJSONString(groupId), '}}'), concat('{{\"id\":', toJSONString(groupId), '}}'))"
)
EVENT_ROWS = f"""
SELECT userId AS user_id, messageId AS message_id,
       if(type IN ('identify', 'group'), type, 'track') AS type,
       multiIf(type = 'track', event, type = 'page', '{PAGE_VIEWED}', type = 'screen', '{SCREEN_VIEWED}', NULL)
           AS event,
       parseDateTime64BestEffortOrNull(timestamp, 6, 'UTC') AS ts,
       multiIf(type = 'identify', coalesce(traits, '{{}}'),
               type = 'group', concat('{{"{ACCOUNT_ID}":', toJSONString(groupId), ',"{ACCOUNT}":', {_ACCOUNT}, '}}'),
               NULL) AS traits
FROM {{source}}
WHERE type IN ('track', 'identify', 'page', 'screen', 'group') AND coalesce(userId, '') != ''
  AND coalesce(messageId, '') != '' AND ts IS NOT NULL
  AND (type != 'track' OR coalesce(event, '') != '') AND (type != 'group' OR coalesce(groupId, '') != '')
-- `type`, `event`, `traits` are the record's, not the row's; an unreadable line is skipped, as DuckDB does
SETTINGS prefer_column_name_to_alias = 1, input_format_allow_errors_ratio = 1
"""
OUTCOME_ROWS = f"""
SELECT outcome_id, kind, user_id, parseDateTime64BestEffortOrNull(occurred_at, 6, 'UTC') AS occurred_at,
       playbook_id, milestone_id, {_attribute("kind")} AS delivery_kind, {_attribute("reason")} AS reason,
       parseDateTime64BestEffortOrNull({_attribute("due_at")}, 6, 'UTC') AS due_at,
       {_attribute("experiment")} AS experiment, {_attribute("variant")} AS variant,
       toInt32OrNull({_attribute("rating")}) AS rating, toInt32OrNull({_attribute("scale")}) AS scale,
       {_attribute("comment")} AS comment
FROM {{source}}
WHERE coalesce(outcome_id, '') != '' AND coalesce(kind, '') != '' AND coalesce(user_id, '') != ''
  AND parseDateTime64BestEffortOrNull(occurred_at, 6, 'UTC') IS NOT NULL
-- `occurred_at` is the record's text, not the parsed time; an unreadable line is skipped, as DuckDB does
SETTINGS prefer_column_name_to_alias = 1, input_format_allow_errors_ratio = 1
"""
ROWS = {
    "events": (EVENT_FIELDS, EVENT_ROWS, "user_id, message_id"),
    "outcomes": (OUTCOME_FIELDS, OUTCOME_ROWS, "outcome_id"),
}


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def file_source(path: Path, table: str) -> str:
    """A JSONL file's records, as `EVENT_ROWS` / `OUTCOME_ROWS` read them."""
    return f"file({_quoted(str(path.resolve()))}, 'JSONEachRow', {_quoted(ROWS[table][0])})"


def raw_table_sql(table: str) -> str:
    """A session table to hand records over in (`INSERT ... FORMAT JSONEachRow`), then read like a file."""
    return f"CREATE OR REPLACE TEMPORARY TABLE _raw_{table} ({ROWS[table][0]}) ENGINE = Memory"


def load_sql(table: str, source: str) -> tuple[list[str], str, list[str]]:
    """(stage, count, store): stage the records of `source` as rows; count how many are new (and how many
    staged); store the new ones, each id once, and count the others in `duplicates`."""
    _, rows, key = ROWS[table]
    staged = f"_staged_{table}"
    stage = [f"CREATE OR REPLACE TEMPORARY TABLE {staged} AS {rows.replace('{source}', source)}"]
    count = f"SELECT uniqExactIf(({key}), ({key}) NOT IN (SELECT {key} FROM {table})), count() FROM {staged}"
    store = [
        f"INSERT INTO {table} SELECT * FROM {staged} WHERE ({key}) NOT IN (SELECT {key} FROM {table}) LIMIT 1 BY {key}",
        f"DROP TABLE {staged}",
    ]
    return stage, count, store


def kafka_ingest_sql(table: str, *, brokers: str, topic: str, group: str) -> list[str]:
    """A ClickHouse server reading a topic itself: a Kafka engine table and a materialized view into `table`."""
    fields, rows, _ = ROWS[table]
    queue = f"{table}_queue"
    settings = {
        "kafka_broker_list": _quoted(brokers),
        "kafka_topic_list": _quoted(topic),
        "kafka_group_name": _quoted(group),
        "kafka_format": "'JSONEachRow'",
        "kafka_skip_broken_messages": "1000000",  # the worker dead-letters bad events: skip, never stop
        "input_format_json_read_objects_as_strings": "1",
    }
    listed = ", ".join(f"{name} = {value}" for name, value in settings.items())
    return [
        f"CREATE TABLE IF NOT EXISTS {queue} ({fields}) ENGINE = Kafka SETTINGS {listed}",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_from_kafka TO {table} AS {rows.replace('{source}', queue)}",
    ]
