"""A collector's share of the accounts: a revoke holds the group back until the accounts in
flight are done, and nothing new starts meanwhile (no broker: the listener's calls made
directly)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ingest.assignment import AccountAssignment, Wake, partition_of
from spendsense.settings import KafkaSettings

ACME = "acme/111111111111"
GLOBEX = "globex/222222222222"


def assignment() -> AccountAssignment:
    return AccountAssignment(KafkaSettings(), client_id="test")


def test_an_account_belongs_to_the_process_holding_its_key_s_partition() -> None:
    a = assignment()
    a._assigned({partition_of(ACME, 4)}, 4)
    assert partition_of(ACME, 4) != partition_of(GLOBEX, 4)
    assert a.owns(ACME, a.generation) and not a.owns(GLOBEX, a.generation)
    # a generation that is over owns nothing, even if the same partitions came back
    before = a.generation
    a._revoked()
    a._assigned({partition_of(ACME, 4)}, 4)
    assert not a.owns(ACME, before) and a.owns(ACME, a.generation)


def test_a_revoke_waits_for_the_accounts_in_flight_and_starts_none() -> None:
    a = assignment()
    a._assigned({0, 1, 2, 3}, 4)
    generation = a.generation
    revoked = threading.Event()

    def revoke() -> None:
        a._revoked()
        revoked.set()

    with a.hold(ACME, generation) as held:
        assert held
        thread = threading.Thread(target=revoke)
        thread.start()
        # the revoke has begun (the generation moved on) but cannot return yet
        while a.generation == generation:
            threading.Event().wait(0.01)
        with a.hold(GLOBEX, generation) as late:
            assert not late  # nothing starts once the partitions are being revoked
        assert not revoked.is_set()
    thread.join(timeout=10)
    assert revoked.is_set()


def test_a_wake_says_what_to_collect() -> None:
    a = assignment()
    assert a.wait(0) == Wake()  # nothing: the cycle's time came
    a._connected(
        [
            b'{"tenant_id": "acme", "account_id": "111111111111", "connected": true, '
            b'"at": "2026-11-01T00:00:00Z"}',
            b"{not json",
            None,
        ]
    )
    wake = a.wait(0)
    assert not wake.everything and wake.keys == {ACME}
    a._assigned({0}, 4)
    assert a.wait(0).everything  # a new share: every account of it
    a.interrupt()
    assert a.wait(None) == Wake()  # stopping: waits no more


class _Consumer:
    """Stands in for the group's consumer in :meth:`AccountAssignment._settle`: answers the
    topic's partition count, after ``meanwhile`` (what happens during that request)."""

    def __init__(self, count: int, meanwhile: Callable[[], None] = lambda: None) -> None:
        self.count = count
        self.meanwhile = meanwhile

    def partitions_for_topic(self, topic: str) -> set[int]:
        self.meanwhile()
        return set(range(self.count))


def test_partitions_given_to_the_listener_are_taken_up_on_the_group_s_thread() -> None:
    a = assignment()
    a._pending = frozenset({partition_of(ACME, 4)})  # what the listener records, no request
    assert not a.owns(ACME, a.generation)
    a._settle(_Consumer(4))  # type: ignore[arg-type]
    assert a.owns(ACME, a.generation) and a.wait(0).everything
    # no metadata yet: kept for the next poll, then taken
    b = assignment()
    b._pending = frozenset({partition_of(ACME, 4)})
    b._settle(_Consumer(0))  # type: ignore[arg-type]
    assert not b.owns(ACME, b.generation)
    b._settle(_Consumer(4))  # type: ignore[arg-type]
    assert b.owns(ACME, b.generation)


def test_a_revoke_while_the_count_is_asked_voids_the_assignment() -> None:
    a = assignment()
    a._pending = frozenset({0, 1, 2, 3})
    a._settle(_Consumer(4, meanwhile=a._revoked))  # type: ignore[arg-type]
    assert not a.owns(ACME, a.generation) and not a.owns(GLOBEX, a.generation)
    a._pending = frozenset({0, 1, 2, 3})
    a._revoked()  # revoked before the group's thread came to it
    a._settle(_Consumer(4))  # type: ignore[arg-type]
    assert not a.owns(ACME, a.generation)
