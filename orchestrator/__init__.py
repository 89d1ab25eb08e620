"""Stream processing: the Faust app, its topics, tables, agents and the CLI."""
