"""Connection settings shared by every Kafka client we create (aiokafka and Faust)."""

from __future__ import annotations

import ssl
from typing import Any

from nudgeflow.orchestrator.settings import Settings


def aiokafka_options(settings: Settings, bootstrap_servers: str) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer/Consumer/AdminClient, TLS and SASL included."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def consumer_options(settings: Settings, bootstrap_servers: str) -> dict[str, Any]:
    """`aiokafka_options` plus what only consumers take: the fetch wait of the broker profile."""
    return {**aiokafka_options(settings, bootstrap_servers), "fetch_max_wait_ms": settings.fetch_wait_ms}


def faust_credentials(settings: Settings) -> Any:
    """The same TLS/SASL settings for Faust's own consumer and producer (None: plaintext)."""
    import faust

    options = aiokafka_options(settings, bootstrap_servers="")
    context = options.get("ssl_context")
    if settings.kafka_sasl_mechanism:
        return faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
