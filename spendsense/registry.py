"""Registries of named plugins, as Cloud Custodian does it.

Collectors and actions are small classes registered under a kebab-case name; each
declares the IAM actions it needs, so the customer role's policy is the union of what
is registered.

>>> things: Registry[type] = Registry("things")
>>> @things.register("cpu-meter")
... class CpuMeter:
...     permissions = ("cloudwatch:GetMetricData",)
>>> things["cpu-meter"] is CpuMeter
True
>>> things.permissions()
['cloudwatch:GetMetricData']
>>> things.register("Bad Name")
Traceback (most recent call last):
...
ValueError: things: 'Bad Name' is not a kebab-case name
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Registry(Generic[T]):
    """A name → plugin mapping; plugins may declare ``permissions`` (IAM actions)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator registering a plugin under ``name``."""
        if not _KEBAB.match(name):
            raise ValueError(f"{self.kind}: {name!r} is not a kebab-case name")

        def add(plugin: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind}: {name!r} is registered twice")
            self._items[name] = plugin
            return plugin

        return add

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise KeyError(f"no {self.kind} named {name!r} (known: {known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def permissions(self) -> list[str]:
        """The sorted union of every registered plugin's declared IAM actions."""
        perms: set[str] = set()
        for plugin in self._items.values():
            perms.update(getattr(plugin, "permissions", ()))
        return sorted(perms)
