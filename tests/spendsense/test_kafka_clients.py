"""Issue 14, item 3: every Kafka client family's settings come from one module, so turning on
TLS and SASL is one change in settings (no broker needed: the settings themselves are checked).
"""

from __future__ import annotations

import inspect
import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from pydantic import SecretStr

from spendsense.errors import ConfigError
from spendsense.kafka_clients import aiokafka_config, faust_config, kafka_python_config
from spendsense.settings import KafkaSettings, load_settings

PASSWORD = "s3cret-kafka-password"


@pytest.fixture
def cafile() -> Path:
    """A real CA bundle to load (any PEM of CA certificates does)."""
    certifi = pytest.importorskip("certifi")
    return Path(certifi.where())


def sasl_ssl(cafile: Path) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers="k1.example:9096,k2.example:9096",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="spendsense",
        sasl_password=SecretStr(PASSWORD),
        ssl_cafile=cafile,
    )


def assert_trusts(context: Any, cafile: Path) -> None:
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    expected = ssl.create_default_context(cafile=str(cafile)).get_ca_certs()
    assert context.get_ca_certs() == expected != []


def test_kafka_python_clients_carry_sasl_ssl(cafile: Path) -> None:
    config = kafka_python_config(sasl_ssl(cafile), client_id="c")
    assert config == {
        "bootstrap_servers": ["k1.example:9096", "k2.example:9096"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "spendsense",
        "sasl_plain_password": PASSWORD,
        "ssl_cafile": str(cafile),
        "client_id": "c",
    }
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):  # names each one knows
        assert set(config) <= set(client.DEFAULT_CONFIG), client


def test_aiokafka_clients_carry_sasl_ssl(cafile: Path) -> None:
    config = aiokafka_config(sasl_ssl(cafile), group_id=None)
    assert config["bootstrap_servers"] == ["k1.example:9096", "k2.example:9096"]
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == (
        "spendsense",
        PASSWORD,
    )
    assert config["group_id"] is None
    assert_trusts(config["ssl_context"], cafile)
    for client in (AIOKafkaProducer, AIOKafkaConsumer):
        known = set(inspect.signature(client.__init__).parameters)
        assert set(config) - {"group_id"} <= known, client


def test_faust_apps_carry_sasl_ssl(cafile: Path) -> None:
    config = faust_config(sasl_ssl(cafile))
    assert config["broker"] == "kafka://k1.example:9096;kafka://k2.example:9096"
    app = faust.App("kafka-clients-test", **config)
    # what Faust's aiokafka driver gives its consumers and producers
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("spendsense", PASSWORD)
    assert_trusts(auth["ssl_context"], cafile)


def test_tls_alone_and_sasl_alone(cafile: Path) -> None:
    tls = KafkaSettings(security_protocol="SSL", ssl_cafile=cafile)
    assert kafka_python_config(tls)["ssl_cafile"] == str(cafile)
    assert "sasl_mechanism" not in kafka_python_config(tls)
    assert_trusts(aiokafka_config(tls)["ssl_context"], cafile)
    auth = credentials_to_aiokafka_auth(faust_config(tls)["broker_credentials"])
    assert auth["security_protocol"] == "SSL"
    assert_trusts(auth["ssl_context"], cafile)

    sasl = KafkaSettings(
        security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password=SecretStr("p")
    )
    assert "ssl_context" not in aiokafka_config(sasl)
    assert "ssl_cafile" not in kafka_python_config(sasl)
    auth = credentials_to_aiokafka_auth(faust_config(sasl)["broker_credentials"])
    assert (auth["security_protocol"], auth["sasl_mechanism"]) == ("SASL_PLAINTEXT", "PLAIN")
    assert auth["ssl_context"] is None


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    kafka = KafkaSettings()
    assert kafka_python_config(kafka) == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert aiokafka_config(kafka) == kafka_python_config(kafka)
    assert faust_config(kafka) == {"broker": "kafka://127.0.0.1:9092"}


def test_sasl_without_credentials_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPENDSENSE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("SPENDSENSE_KAFKA__SASL_PASSWORD", PASSWORD)
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    message = str(err.value)
    assert "SASL_USERNAME" in message and PASSWORD not in message
    assert len(message.splitlines()) == 1
