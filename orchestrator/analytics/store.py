"""The DuckDB database analytics reads: raw events and outcomes, one row per record as received.

Records arrive as JSON text (topic values, JSONL lines) and are parsed by DuckDB itself, in bulk:
no Python object per record. Records that are not valid JSON or miss a required field are
skipped (the worker already dead-lettered bad events). A record whose id is already stored
(messageId per user, outcome_id) is dropped on the way in and counted in `duplicates`, so a
re-delivered record never counts twice.
Timestamps are TIMESTAMPTZ and the session time zone is UTC: every day and week is a UTC one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from nudgeflow.rules.contracts.events import ACCOUNT, ACCOUNT_ID, PAGE_VIEWED, SCREEN_VIEWED

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    user_id VARCHAR NOT NULL, message_id VARCHAR NOT NULL, type VARCHAR NOT NULL,
    event VARCHAR, ts TIMESTAMPTZ NOT NULL, traits JSON
);
-- Outcomes keep the attributes analytics reads as columns (parsed once, on the way in).
CREATE TABLE IF NOT EXISTS outcomes (
    outcome_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, user_id VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL, playbook_id VARCHAR, milestone_id VARCHAR,
    delivery_kind VARCHAR, reason VARCHAR, due_at TIMESTAMPTZ, experiment VARCHAR, variant VARCHAR,
    rating INTEGER, scale INTEGER, comment VARCHAR
);
-- Added after the first release: a database file written before gets them (NULL in older rows).
ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS rating INTEGER;
ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS scale INTEGER;
ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS comment VARCHAR;
-- Records seen again (same messageId for a user, same outcome_id): dropped, counted here.
CREATE TABLE IF NOT EXISTS duplicates (topic VARCHAR PRIMARY KEY, n BIGINT NOT NULL);
-- The ingester's consumer positions, written in the same transaction as the rows they cover.
CREATE TABLE IF NOT EXISTS offsets (
    topic VARCHAR NOT NULL, part INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (topic, part)
);
"""

Fields = dict[str, "str | Fields"]
EVENT_FIELDS: Fields = {
    "userId": "VARCHAR", "messageId": "VARCHAR", "type": "VARCHAR", "event": "VARCHAR", "timestamp": "VARCHAR",
    "traits": "JSON", "groupId": "VARCHAR",
}  # fmt: skip
OUTCOME_FIELDS: Fields = {
    "outcome_id": "VARCHAR", "kind": "VARCHAR", "user_id": "VARCHAR", "occurred_at": "VARCHAR",
    "playbook_id": "VARCHAR", "milestone_id": "VARCHAR",
    "attributes": {"kind": "VARCHAR", "reason": "VARCHAR", "due_at": "VARCHAR", "experiment": "VARCHAR",
                   "variant": "VARCHAR", "rating": "VARCHAR", "scale": "VARCHAR", "comment": "VARCHAR"},
}  # fmt: skip


def _sql_type(value: str | Fields) -> str:
    if isinstance(value, str):
        return value
    return "STRUCT(" + ", ".join(f'"{k}" {_sql_type(v)}' for k, v in value.items()) + ")"


# `src` has the fields above as columns; rows missing what the contract requires are skipped. Page and
# screen calls are the track events the rules read them as; a group call keeps its type, with the
# traits the worker reads it as (`account_id`, `account`: rules/contracts/events.py); the snapshot
# keeps the latest one's `account_id` beside the user's identify traits.
EVENT_ROWS = f"""
SELECT userId AS user_id, messageId AS message_id,
       CASE WHEN type IN ('identify', 'group') THEN type ELSE 'track' END AS type,
       CASE type WHEN 'track' THEN event WHEN 'page' THEN '{PAGE_VIEWED}' WHEN 'screen' THEN '{SCREEN_VIEWED}' END
           AS event,
       TRY_CAST(timestamp AS TIMESTAMPTZ) AS ts,
       CASE type WHEN 'identify' THEN coalesce(traits, '{{}}')
                 WHEN 'group' THEN json_object(
                     '{ACCOUNT_ID}', groupId,
                     '{ACCOUNT}', json_merge_patch(coalesce(traits, '{{}}'), json_object('id', groupId)))
       END AS traits
FROM src
WHERE type IN ('track', 'identify', 'page', 'screen', 'group') AND coalesce(userId, '') <> ''
  AND coalesce(messageId, '') <> '' AND TRY_CAST(timestamp AS TIMESTAMPTZ) IS NOT NULL
  AND (type <> 'track' OR coalesce(event, '') <> '') AND (type <> 'group' OR coalesce(groupId, '') <> '')
"""
OUTCOME_ROWS = """
SELECT outcome_id, kind, user_id, TRY_CAST(occurred_at AS TIMESTAMPTZ) AS occurred_at, playbook_id, milestone_id,
       attributes.kind AS delivery_kind, attributes.reason AS reason,
       TRY_CAST(attributes.due_at AS TIMESTAMPTZ) AS due_at, attributes.experiment AS experiment,
       attributes.variant AS variant, TRY_CAST(attributes.rating AS INTEGER) AS rating,
       TRY_CAST(attributes.scale AS INTEGER) AS scale, attributes.comment AS comment
FROM src
WHERE coalesce(outcome_id, '') <> '' AND coalesce(kind, '') <> '' AND coalesce(user_id, '') <> ''
  AND TRY_CAST(occurred_at AS TIMESTAMPTZ) IS NOT NULL
"""
TABLES = {
    "events": (EVENT_FIELDS, EVENT_ROWS, "user_id, message_id"),
    "outcomes": (OUTCOME_FIELDS, OUTCOME_ROWS, "outcome_id"),
}


def _from_file(fields: Fields) -> str:
    columns = ", ".join(f"'{k}': '{_sql_type(v)}'" for k, v in fields.items())
    return (
        "WITH src AS (SELECT * FROM read_json($path, format = 'newline_delimited', ignore_errors = true, "
        f"columns = {{{columns}}}))"
    )


# A trait's value (JSON) by its key, whatever characters the key holds. A function of its own so that
# the metrics' SQL stays engine-neutral: on ClickHouse it is `JSONExtractRaw` (clickhouse/dialect.py).
TRAIT_VALUE = (
    """CREATE OR REPLACE TEMP MACRO trait_value(doc, k) AS json_extract(doc, '$."' || replace(k, '"', '\\"') || '"')"""
)
READER_MEMORY = "300MB"  # a report's working memory: DuckDB spills beyond it rather than grow


def connect(path: Path | str = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection in UTC with the schema in place (a read-only one expects it there already and
    keeps its working memory to `READER_MEMORY`)."""
    connection = duckdb.connect(str(path), read_only=read_only)
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(TRAIT_VALUE)
    if read_only:
        connection.execute(f"SET memory_limit = '{READER_MEMORY}'")
    if not read_only:
        connection.execute(SCHEMA)
    return connection


def _insert(connection: duckdb.DuckDBPyConnection, table: str, source: str, params: dict[str, object]) -> int:
    """Parse into a staging table, then keep the rows whose key is new; count the others as duplicates."""
    _, rows, key = TABLES[table]
    connection.execute(f"CREATE OR REPLACE TEMP TABLE _staged AS {source} {rows}", params)
    inserted = connection.execute(
        f"INSERT INTO {table} SELECT DISTINCT ON ({key}) * FROM _staged s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE ({', '.join('t.' + k for k in key.split(', '))}) = "
        f"({', '.join('s.' + k for k in key.split(', '))}))"
    ).fetchone()
    kept = int(inserted[0]) if inserted else 0
    staged = connection.execute("SELECT count(*) FROM _staged").fetchone()
    dropped = (int(staged[0]) if staged else 0) - kept
    if dropped:
        connection.execute(
            "INSERT INTO duplicates VALUES ($t, $n) ON CONFLICT (topic) DO UPDATE SET n = n + excluded.n",
            {"t": table, "n": dropped},
        )
    connection.execute("DROP TABLE _staged")
    return kept


def add_texts(connection: duckdb.DuckDBPyConnection, events: Sequence[str], outcomes: Sequence[str]) -> tuple[int, int]:
    """Insert JSON texts (topic values) in bulk; returns how many new events and outcomes were kept.

    The texts go through a temporary JSONL file: DuckDB's JSON reader parses a file several times
    faster than a list handed over from Python. A newline inside a JSON text can only be
    whitespace (in strings it is escaped), so it becomes a space and each text stays one line."""
    kept = []
    for table, texts in (("events", events), ("outcomes", outcomes)):
        if not texts:
            kept.append(0)
            continue
        with tempfile.TemporaryDirectory(prefix="nudgeflow-analytics-") as scratch:
            path = Path(scratch) / f"{table}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for text in texts:
                    out.write(text.replace("\n", " ").replace("\r", " ") + "\n")
            kept.append(_insert(connection, table, _from_file(TABLES[table][0]), {"path": str(path)}))
    return kept[0], kept[1]


def add_files(connection: duckdb.DuckDBPyConnection, events: Path | None, outcomes: Path | None) -> None:
    """Load JSONL files (one record per line) straight into the tables."""
    for table, path in (("events", events), ("outcomes", outcomes)):
        if path is not None:
            _insert(connection, table, _from_file(TABLES[table][0]), {"path": str(path)})
