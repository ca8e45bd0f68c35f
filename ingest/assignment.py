"""Which accounts a collector process collects: Kafka's group membership decides.

Every ``spendsense collect`` process (but ``--once``) joins the ``collectors`` consumer
group on the compacted ``accounts`` topic. An account belongs to the partition its key
(``<tenant>/<account>``, :func:`~spendsense.events.account_key`) hashes to with the
producer's own partitioner (murmur2, as Kafka's Java client), so a process collects exactly
the accounts of the partitions the group gave it; the store says which accounts exist. The
records on the topic (the API's, when an account is connected) only wake the owner, so a new
account is collected at once rather than at the next cycle.

A rebalance (a process joins, leaves, or stops heartbeating for ``SESSION_TIMEOUT_MS``)
first revokes every partition (kafka-python's eager protocol): from then on no account is
started, and the revoke returns only once the accounts in flight have finished, flushed and
committed their cursors. The group hands the partitions out again only after every live
member has revoked, so two live processes never collect one account at once. A process that
died holds nothing back: whatever it published after its last commit is read back from
``metrics`` (:mod:`ingest.recovery`) by the process that takes its accounts over, before
that process collects any of them (the assignment's ``generation`` changed).

>>> a = AccountAssignment(KafkaSettings(), client_id="doc")
>>> a._assigned({0, 1, 2, 3}, 4)
>>> a.owns("acme/111111111111", a.generation)
True
>>> wake = a.wait(0)
>>> wake.everything, sorted(wake.keys)
(True, [])
>>> a._revoked()
>>> a.owns("acme/111111111111", a.generation)
False
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from spendsense.errors import PoisonRecord, ServiceError
from spendsense.kafka_clients import kafka_python_config
from spendsense.settings import KafkaSettings
from spendsense.topics import ACCOUNTS, ACCOUNTS_SPEC, topic_name

log = logging.getLogger(__name__)

GROUP = "collectors"
SESSION_TIMEOUT_MS = 10_000
"""A process that stops heartbeating this long loses its accounts to the others."""
REBALANCE_TIMEOUT_MS = 600_000
"""How long a rebalance waits for a live process to finish its accounts in flight (kafka-python
takes it from ``max_poll_interval_ms``; the group's consumer thread polls all the time)."""


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner puts ``key`` in, of ``partitions``.

    >>> [partition_of(k, 4) for k in ("acme/111111111111", "globex/222222222222")]
    [3, 2]
    """
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class Wake:
    """Why the collector loop woke: ``everything`` after a rebalance, else the ``keys`` of
    accounts just connected (both empty: the cycle's time came)."""

    everything: bool = False
    keys: frozenset[str] = field(default_factory=frozenset)


class AccountAssignment:
    """This process's share of the accounts, kept by a consumer of the ``collectors`` group
    on its own thread (:meth:`start`, :meth:`close`)."""

    def __init__(self, kafka: KafkaSettings, *, client_id: str) -> None:
        self.kafka = kafka
        self.client_id = client_id
        self.topic = topic_name(kafka, ACCOUNTS)
        self._cond = threading.Condition()
        self._generation = 0
        self._partitions: frozenset[int] = frozenset()
        self._count = 0
        self._busy = 0
        self._everything = False
        self._keys: set[str] = set()
        self._pending: frozenset[int] | None = None
        self._closing = False
        self._thread: threading.Thread | None = None
        self.failure: str | None = None

    @property
    def generation(self) -> int:
        """Bumped by every revoke and every assignment."""
        with self._cond:
            return self._generation

    def owns(self, key: str, generation: int) -> bool:
        """Whether the account ``key`` is this process's in ``generation`` (still current)."""
        with self._cond:
            return self._owns(key, generation)

    def _owns(self, key: str, generation: int) -> bool:
        return (
            generation == self._generation
            and self._count > 0
            and partition_of(key, self._count) in self._partitions
        )

    @contextmanager
    def hold(self, key: str, generation: int) -> Iterator[bool]:
        """Yields whether the account is still this process's; while held (True), a revoke
        waits for it."""
        with self._cond:
            held = self._owns(key, generation)
            if held:
                self._busy += 1
        try:
            yield held
        finally:
            if held:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def wait(self, timeout: float | None) -> Wake:
        """Block until a rebalance, a connected account, :meth:`interrupt`, or ``timeout``."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._everything or self._keys or self._closing, timeout=timeout
            )
            wake = Wake(self._everything, frozenset(self._keys))
            self._everything, self._keys = False, set()
            return wake

    def interrupt(self) -> None:
        """Make :meth:`wait` return now, and every later call at once (the process stops)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    # -- the group's consumer (its own thread) ---------------------------------------

    def start(self) -> None:
        """Join the group; partitions come asynchronously (:meth:`wait` says when)."""
        consumer = KafkaConsumer(
            **kafka_python_config(
                self.kafka,
                group_id=f"{self.kafka.topic_prefix}{GROUP}",
                client_id=self.client_id,
                enable_auto_commit=True,
                auto_offset_reset="latest",
                session_timeout_ms=SESSION_TIMEOUT_MS,
                heartbeat_interval_ms=SESSION_TIMEOUT_MS // 3,
                max_poll_interval_ms=REBALANCE_TIMEOUT_MS,
                # neighbouring partitions to different processes: a few accounts spread too
                partition_assignment_strategy=(RoundRobinPartitionAssignor,),
            )
        )
        consumer.subscribe([self.topic], listener=_Listener(self, consumer))
        self._thread = threading.Thread(
            target=self._run, args=(consumer,), name="collector-group", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Leave the group (the others take the partitions over at once)."""
        self.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def check(self) -> None:
        """Raise :class:`ServiceError` if the group's consumer died (the process should exit
        and be restarted: it holds no accounts any more)."""
        if self.failure is not None:
            raise ServiceError(f"collectors group: the consumer stopped: {self.failure}")

    def _run(self, consumer: KafkaConsumer) -> None:
        try:
            while not self._closing:
                try:
                    batches = consumer.poll(timeout_ms=500)
                except KafkaError as exc:
                    log.warning("collectors group: %s; polling again", exc)
                    threading.Event().wait(1.0)
                    continue
                self._settle(consumer)
                for messages in batches.values():
                    self._connected([m.value for m in messages])
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            # nothing of ours is collected once we leave the group and others take it over
            self._revoked()
            consumer.close()
            self.interrupt()

    def _connected(self, values: list[bytes | None]) -> None:
        keys = set()
        for value in values:
            try:
                record = ACCOUNTS_SPEC.parse(value)
            except PoisonRecord as exc:
                log.warning("collectors group: an accounts record skipped (%s)", exc)
                continue
            if record.connected:
                keys.add(record.key)
        if keys:
            with self._cond:
                self._keys |= keys
                self._cond.notify_all()

    def _settle(self, consumer: KafkaConsumer) -> None:
        """Take up the partitions the listener was given, on this thread: the topic's
        partition count may need a metadata request, which kafka-python's IO thread (where
        the listener runs) cannot block on. A revoke in between voids them."""
        with self._cond:
            pending, generation = self._pending, self._generation
            self._pending = None
        if pending is None:
            return
        try:
            count = len(consumer.partitions_for_topic(self.topic) or ())
        except KafkaError as exc:
            log.warning("collectors group: the topic's partitions: %s; asking again", exc)
            count = 0
        if not count:  # no metadata yet: try again after the next poll
            with self._cond:
                if self._generation == generation and self._pending is None:
                    self._pending = pending
            return
        self._assigned(set(pending), count, generation)

    def _revoked(self) -> None:
        with self._cond:
            self._generation += 1
            self._pending = None
            self._partitions, self._count = frozenset(), 0
            self._keys.clear()
            # the group waits for this return: only then may another process take them
            self._cond.wait_for(lambda: self._busy == 0)

    def _assigned(self, partitions: set[int], count: int, since: int | None = None) -> None:
        """Own ``partitions`` of ``count``; with ``since``, only if no revoke or assignment
        came after that generation."""
        with self._cond:
            if since is not None and since != self._generation:
                return
            self._generation += 1
            self._partitions, self._count = frozenset(partitions), count
            self._everything = True
            self._cond.notify_all()
        log.info(
            "collectors group: partitions %s of %d of %s assigned",
            sorted(partitions),
            count,
            self.topic,
        )


class _Listener(ConsumerRebalanceListener):
    def __init__(self, owner: AccountAssignment, consumer: KafkaConsumer) -> None:
        self.owner = owner
        self.consumer = consumer

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.owner._revoked()

    def on_partitions_assigned(self, assigned: Any) -> None:
        with self.owner._cond:
            self.owner._pending = frozenset(tp.partition for tp in assigned)
