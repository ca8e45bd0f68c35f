"""The collector registry: each collector is a small class under a kebab-case name.

Each declares the IAM actions it calls in the customer account, so the customer
role's read-only policy is derived from what is registered (``api.customer_permissions``).

>>> sorted(load_collectors())
['cloudwatch', 'cost-explorer', 'inventory', 'resources']
>>> load_collectors()["inventory"].permissions
('ec2:DescribeInstances',)
>>> "rds:DescribeDBInstances" in load_collectors().permissions()
True
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from spendsense.registry import Registry

if TYPE_CHECKING:
    from ingest.deps import AccountJob, IngestDeps

COLLECTOR_MODULES = ("ingest.inventory", "ingest.cloudwatch", "ingest.costs", "ingest.resources")
"""Modules that register collectors; importing them fills :data:`collectors`."""


class Collector(ABC):
    """One kind of data read from a customer account and published to a topic.

    ``permissions`` are the IAM actions it needs in the customer account; ``order``
    says when it runs in an account's cycle (inventory first: the others read it).
    """

    name: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]]
    order: ClassVar[int] = 50

    def __init__(self, ctx: IngestDeps) -> None:
        self.ctx = ctx

    @abstractmethod
    def collect(self, job: AccountJob) -> int:
        """Collect one account (all its regions); returns the records published."""


collectors: Registry[type[Collector]] = Registry("collector")


def register(name: str) -> Any:
    """Class decorator: register a collector under ``name`` (and set its ``name``)."""
    add = collectors.register(name)

    def wrap(cls: type[Collector]) -> type[Collector]:
        cls.name = name
        return add(cls)

    return wrap


def load_collectors() -> Registry[type[Collector]]:
    """The registry with every collector module imported."""
    for module in COLLECTOR_MODULES:
        importlib.import_module(module)
    return collectors


def ordered(ctx: IngestDeps, names: list[str] | None = None) -> list[Collector]:
    """Instances of the named collectors (all by default) in the order an account cycle runs them."""
    registry = load_collectors()
    chosen = [registry[n] for n in (names or list(registry))]
    return [cls(ctx) for cls in sorted(chosen, key=lambda c: (c.order, c.name))]
