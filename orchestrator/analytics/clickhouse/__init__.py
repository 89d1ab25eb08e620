"""The scale option: the same metrics on ClickHouse (embedded through chdb, or a server).

`dialect` translates the metrics' SQL, `schema` holds the tables and how records become rows,
`engine` runs it all. Needs the `clickhouse` extra; the DuckDB default does not.
"""
