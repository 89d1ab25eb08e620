"""TLS and SASL settings reach every Kafka client: plain aiokafka ones and Faust's own."""

from __future__ import annotations

import ssl

import faust

from nudgeflow.orchestrator.broker.clients import aiokafka_options, faust_credentials
from nudgeflow.orchestrator.settings import Settings


def test_sasl_over_tls_reaches_aiokafka_and_faust() -> None:
    settings = Settings(
        kafka_bootstrap_servers="k:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="nudgeflow",
        kafka_sasl_password="hunter2",
    )
    options = aiokafka_options(settings, "k:9093")
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_password"] == "hunter2"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.password == "hunter2"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.as_dict())


def test_plaintext_has_no_credentials_and_tls_alone_is_ssl() -> None:
    assert faust_credentials(Settings()) is None
    assert isinstance(faust_credentials(Settings(kafka_security_protocol="SSL")), faust.SSLCredentials)
