"""A plain aiokafka consumer beside Faust's own, with the Faust app's broker and credentials.

Used where Faust's consumer can't do the job: probing Tansu's true partition ends
(tansu_offsets.py) and reading a changelog in bulk on recovery (bulk_restore.py). No group,
no commits: the caller assigns partitions and seeks.
"""

from __future__ import annotations

from typing import Any

import aiokafka


def side_consumer(app: Any, name: str, *, fetch_max_wait_ms: int, **options: Any) -> aiokafka.AIOKafkaConsumer:
    """An unstarted consumer named `<client id>-<name>` for the Faust `app`'s cluster."""
    from faust.transport.drivers import aiokafka as faust_aiokafka

    conf, transport = app.conf, app.transport
    return aiokafka.AIOKafkaConsumer(
        bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
        client_id=f"{conf.broker_client_id}-{name}",
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
        request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
        **faust_aiokafka.credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
        **options,
    )
