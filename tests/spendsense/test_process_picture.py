"""The picture of processes and topics in docs/architecture.md is drawn from the table of
processes, and every topic has a writer and (but the dead letters) a reader."""

from __future__ import annotations

from pathlib import Path

from devstack.stack import FLOWS, PIPELINE, picture
from spendsense.topics import DEADLETTER, TOPICS

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_architecture_shows_the_table_s_picture() -> None:
    assert f"```text\n{picture()}\n```" in ARCHITECTURE.read_text(), (
        "docs/architecture.md's picture is stale: paste devstack.stack.picture()'s output"
    )


def test_every_pipeline_process_is_drawn() -> None:
    assert set(FLOWS) == set(PIPELINE)


def test_every_topic_is_written_and_read() -> None:
    written = {t for _, writes in FLOWS.values() for t in writes}
    read = {t for reads, _ in FLOWS.values() for t in reads}
    names = {spec.name for spec in TOPICS}
    assert written == names
    assert read == names - {DEADLETTER}
