"""Kafka connectivity: the embedded Tansu broker and client settings."""
