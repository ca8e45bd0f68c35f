"""The actions worker's ``waste-alerts`` agent on the real broker: a waste finding on the
``waste`` topic becomes the digest's waste section; a provisional one alerts nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from devstack.launch import Child
from spendsense.settings import KafkaSettings
from spendsense.store.models.waste import WasteAlertState
from spendsense.topics import WASTE
from tests.actions.conftest import Rig
from tests.actions.test_waste_alerts import finding
from tests.actions.test_worker import _wait, start_worker  # noqa: F401 - the fixture
from tests.fixtures.detector import produce

pytestmark = pytest.mark.kafka


def waste_states(rig: Rig) -> dict[str, WasteAlertState]:
    """Every resource's alert state, by resource id."""
    with rig.store.sessions() as session:
        return {s.resource_id: s for s in session.scalars(select(WasteAlertState))}


def test_a_waste_finding_on_the_topic_is_emailed_by_kind(
    kafka: KafkaSettings,
    rig: Rig,
    start_worker: Callable[[], tuple[Child, int]],  # noqa: F811
) -> None:
    worker, _ = start_worker()
    early = finding(rig, "nat-gateway", "nat-0fff0001", 32.85, waste=False, provisional=True)
    found = finding(rig, "elastic-ip", "eipalloc-0fff0002", 3.6)
    produce(kafka, WASTE, [(early.key, early.to_bytes()), (found.key, found.to_bytes())])
    # the two keys may sit in two partitions: the digest can go before the provisional one
    # is folded, so wait for both states, not only the mail
    _wait("the waste digest", lambda: len(rig.mail_to(rig.recipient)) == 1, worker)
    _wait("both findings folded", lambda: set(waste_states(rig)) >= {"nat-0fff0001"}, worker)
    (mail,) = rig.mail_to(rig.recipient)
    assert mail.subject == "SpendSense: 1 wasted resource, about $4/month"
    assert "Elastic IPs: 1, about $3.60 per month" in (mail.text or "")
    assert "nat-0fff0001" not in (mail.text or "")
    states = waste_states(rig)
    assert states["nat-0fff0001"].pending is False and states["nat-0fff0001"].alerted_at is None
    assert states["eipalloc-0fff0002"].alerted_at is not None
