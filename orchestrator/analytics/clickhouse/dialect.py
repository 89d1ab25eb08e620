"""The metrics' DuckDB SQL as ClickHouse runs it: sqlglot's translation, plus what it leaves out.

The metrics are written once, in DuckDB's dialect (`analytics/queries.py`). sqlglot parses them
and writes ClickHouse SQL; `MetricsClickHouse` adds the translations this SQL needs that sqlglot
does not make, each chosen so that both engines return the same numbers (the unit tests run the
whole report on both and compare):

- `quantile_cont` → `quantileExactInclusive` (linear interpolation, like DuckDB; ClickHouse's
  `quantile` samples), `list(DISTINCT x)` → `groupUniqArray`, `bool_or` → `max`;
- `string_agg(x, sep ORDER BY k)` → a sorted `groupArray` joined (ClickHouse aggregates take no ORDER BY);
- JSON: `json_type` names its kinds in upper case, `json_keys` → `JSONExtractKeys`, `to_json` →
  `toJSONString`, `json_extract_string` of a missing key is NULL (ClickHouse: ''), and
  `trait_value(traits, key)` (a DuckDB macro, `store.py`) → `JSONExtractRaw`;
- `to_days/to_hours/to_seconds(n)` → intervals; `SEMI JOIN` → `LEFT SEMI JOIN`; `SELECT t.x` is named `x`;
- TIMESTAMPTZ → `DateTime64(6, 'UTC')`: microseconds, like DuckDB.

Parameters (`$name`) are written into the SQL as literals, quoted by sqlglot: ClickHouse's typed
parameters would need a type per use, and these values are few and small. The session settings
that make ClickHouse's NULLs behave like SQL's (outer joins, grouping sets) are in `engine.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.generators.clickhouse import ClickHouseGenerator

Transform = Callable[[ClickHouseGenerator, Any], str]


def _quantile(g: ClickHouseGenerator, e: exp.PercentileCont) -> str:
    return f"quantileExactInclusive({g.sql(e, 'expression')})({g.sql(e, 'this')})"


def _array_agg(g: ClickHouseGenerator, e: exp.ArrayAgg) -> str:
    if isinstance(e.this, exp.Distinct):
        return f"groupUniqArray({g.expressions(e.this, flat=True)})"
    return f"groupArray({g.sql(e, 'this')})"


def _group_concat(g: ClickHouseGenerator, e: exp.GroupConcat) -> str:
    separator = g.sql(e, "separator") or "','"
    if isinstance(e.this, exp.Order):
        value, [key] = g.sql(e.this, "this"), e.this.expressions
        sort = "arrayReverseSort" if key.args.get("desc") else "arraySort"
        pairs = f"{sort}(p -> p.1, groupArray(({g.sql(key, 'this')}, {value})))"
        return f"arrayStringConcat(arrayMap(p -> p.2, {pairs}), {separator})"
    return f"arrayStringConcat(groupArray({g.sql(e, 'this')}), {separator})"


def _json_scalar(g: ClickHouseGenerator, e: exp.JSONExtractScalar) -> str:
    """DuckDB's `json_extract_string`: NULL for a missing key or a JSON null, a non-string as its JSON text."""
    document, key = g.sql(e, "this"), g.sql(e, "expression")
    kind = f"JSONType({document}, {key})"
    text = f"if({kind} = 'String', JSONExtractString({document}, {key}), JSONExtractRaw({document}, {key}))"
    return f"if(JSONHas({document}, {key}) AND {kind} != 'Null', {text}, NULL)"


def _interval(unit: str) -> Callable[[ClickHouseGenerator, exp.Expression], str]:
    def interval(g: ClickHouseGenerator, e: exp.Expression) -> str:
        amount = g.sql(e, "this") if isinstance(e, exp.ToDays) else g.expressions(e, flat=True)
        return f"toIntervalMicrosecond(toInt64(({amount}) * {unit}))"

    return interval


ANONYMOUS: dict[str, Transform] = {
    "to_json": lambda g, e: f"toJSONString({g.expressions(e, flat=True)})",
    "trait_value": lambda g, e: f"JSONExtractRaw({g.expressions(e, flat=True)})",
    "to_hours": _interval("3600000000"),
    "to_seconds": _interval("1000000"),
}


class MetricsClickHouse(ClickHouse):
    """ClickHouse as the metrics need it written."""

    class Generator(ClickHouseGenerator):
        TYPE_MAPPING = {**ClickHouseGenerator.TYPE_MAPPING, exp.DataType.Type.TIMESTAMPTZ: "DateTime64(6, 'UTC')"}
        TRANSFORMS = {
            **ClickHouseGenerator.TRANSFORMS,
            exp.PercentileCont: _quantile,
            exp.ArrayAgg: _array_agg,
            exp.GroupConcat: _group_concat,
            exp.LogicalOr: lambda g, e: f"max({g.sql(e, 'this')})",
            exp.JSONType: lambda g, e: f"upper(toString(JSONType({g.sql(e, 'this')})))",
            exp.JSONKeys: lambda g, e: f"JSONExtractKeys(coalesce({g.sql(e, 'this')}, '{{}}'))",
            exp.JSONExtractScalar: _json_scalar,
            exp.ToDays: _interval("86400000000"),
        }

        def anonymous_sql(self, expression: exp.Anonymous) -> str:
            transform = ANONYMOUS.get(str(expression.this).lower())
            return transform(self, expression) if transform else str(super().anonymous_sql(expression))

        def join_sql(self, expression: exp.Join, join_op: str | None = None) -> str:
            if expression.kind == "SEMI" and not expression.side:
                expression = expression.copy()
                expression.set("side", "LEFT")
            return super().join_sql(expression, join_op)


def literal(value: object) -> exp.Expression:
    """A parameter's value as SQL: NULL, a number, a quoted string, a UTC timestamp, a date or an array."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, datetime):  # naive: UTC, like every time analytics stores
        utc = value.astimezone(UTC) if value.tzinfo is not None else value
        text = utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return exp.cast(exp.Literal.string(text), "TIMESTAMPTZ")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    return exp.Literal.string(str(value))


def _name_qualified_columns(statement: exp.Expr) -> None:
    """`SELECT s.user_id` names its column `user_id` in SQL, `s.user_id` in ClickHouse: say it."""
    for select in statement.find_all(exp.Select):
        names = [p.alias_or_name for p in select.expressions]
        for projection in select.expressions:
            if isinstance(projection, exp.Column) and projection.table and not isinstance(projection.this, exp.Star):
                if names.count(projection.name) == 1:  # two `x` columns keep their qualified names
                    projection.replace(exp.alias_(projection.copy(), projection.name))


def to_clickhouse(sql: str, params: Mapping[str, object] | None = None) -> list[str]:
    """The statements of `sql` (DuckDB dialect, `$name` parameters) as ClickHouse SQL, values written in."""
    values = dict(params or {})
    statements = []
    for statement in sqlglot.parse(sql, read="duckdb"):
        if statement is None:
            continue
        for placeholder in list(statement.find_all(exp.Placeholder)):
            name = str(placeholder.this)
            if name not in values:
                raise KeyError(f"no value for ${name}")
            placeholder.replace(literal(values[name]))
        _name_qualified_columns(statement)
        statements.append(statement.sql(dialect=MetricsClickHouse))
    return statements
