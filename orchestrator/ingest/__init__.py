"""Ingest: turn raw Kafka records into validated product events, or dead letters."""
