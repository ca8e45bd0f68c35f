"""Every Kafka client's connection settings, built in one place from :class:`KafkaSettings`.

The project speaks to Kafka through three client families: kafka-python (the collector's
producer, the projector, topic admin), aiokafka (the detector's output and context
reader, the API's live feed) and Faust (the detector and actions workers). Each is made
from the function for its family here, so the broker's address and its security (TLS with
a CA file, SASL user and password) are one change in settings:
``SPENDSENSE_KAFKA__SECURITY_PROTOCOL=SASL_SSL`` and the fields beside it.

>>> kafka_python_config(KafkaSettings(bootstrap_servers="k1:9092,k2:9092"), client_id="x")
{'bootstrap_servers': ['k1:9092', 'k2:9092'], 'security_protocol': 'PLAINTEXT', 'client_id': 'x'}
>>> aiokafka_config(KafkaSettings(bootstrap_servers="k1:9092,k2:9092"))
{'bootstrap_servers': ['k1:9092', 'k2:9092'], 'security_protocol': 'PLAINTEXT'}
>>> faust_config(KafkaSettings(bootstrap_servers="k1:9092,k2:9092"))
{'broker': 'kafka://k1:9092;kafka://k2:9092'}
"""

from __future__ import annotations

import ssl
from typing import Any

from spendsense.settings import KafkaSettings


def bootstrap_list(kafka: KafkaSettings) -> list[str]:
    """The brokers to bootstrap from, as ``host:port`` strings."""
    return [hp.strip() for hp in kafka.bootstrap_servers.split(",") if hp.strip()]


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    """A TLS client context that trusts ``ssl_cafile`` (or the system's CAs)."""
    cafile = str(kafka.ssl_cafile) if kafka.ssl_cafile is not None else None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)


def _sasl(kafka: KafkaSettings) -> dict[str, Any]:
    """kafka-python's and aiokafka's SASL keywords (the same names in both)."""
    if not kafka.sasl:
        return {}
    password = kafka.sasl_password
    return {
        "sasl_mechanism": kafka.sasl_mechanism,
        "sasl_plain_username": kafka.sasl_username,
        "sasl_plain_password": password.get_secret_value() if password is not None else None,
    }


def kafka_python_config(kafka: KafkaSettings, **extra: Any) -> dict[str, Any]:
    """Keywords for kafka-python's ``KafkaProducer``, ``KafkaConsumer`` and
    ``KafkaAdminClient``, with the client's own ``extra`` ones."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(kafka),
        "security_protocol": kafka.security_protocol,
        **_sasl(kafka),
    }
    if kafka.tls and kafka.ssl_cafile is not None:
        config["ssl_cafile"] = str(kafka.ssl_cafile)
    return config | extra


def aiokafka_config(kafka: KafkaSettings, **extra: Any) -> dict[str, Any]:
    """Keywords for aiokafka's ``AIOKafkaProducer`` and ``AIOKafkaConsumer``, with the
    client's own ``extra`` ones (aiokafka takes TLS as a context, never a file)."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(kafka),
        "security_protocol": kafka.security_protocol,
        **_sasl(kafka),
    }
    if kafka.tls:
        config["ssl_context"] = ssl_context(kafka)
    return config | extra


WORKER_METADATA_MAX_AGE_MS = 30_000
"""How often a Faust worker's consumer refreshes the broker's metadata (Faust's default is
5 minutes): a worker that started while its topics were not yet visible (just created, a
broker under load) was assigned nothing, and finds them, and rebalances, within this."""


def faust_config(kafka: KafkaSettings) -> dict[str, Any]:
    """Keywords for ``faust.App``: the broker URL and, past PLAINTEXT, its credentials."""
    config: dict[str, Any] = {"broker": ";".join(f"kafka://{hp}" for hp in bootstrap_list(kafka))}
    if kafka.security_protocol == "PLAINTEXT":
        return config
    import faust  # deferred: kafka-python's clients do not need Faust loaded

    context = ssl_context(kafka) if kafka.tls else None
    if kafka.sasl:
        password = kafka.sasl_password
        config["broker_credentials"] = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=password.get_secret_value() if password is not None else None,
            ssl_context=context,
            mechanism=kafka.sasl_mechanism,
        )
    else:
        config["broker_credentials"] = faust.SSLCredentials(context)
    return config
