"""The ``prefix`` dialect: each attribute's string form starts with the value (entries ANDed).

A missing attribute does not match. Called by :mod:`kawa.filters.compile`.
"""

from __future__ import annotations

from collections.abc import Mapping

from kawa.cloudevents import CloudEvent
from kawa.filters import all as all_
from kawa.filters.base import Filter, attribute_reader


def prefix_filter(attributes: Mapping[str, str]) -> Filter:
    """Matches when every attribute named in ``attributes`` starts with its value."""
    return all_.all_filter([_prefix(name, value) for name, value in attributes.items()])


def _prefix(name: str, prefix: str) -> Filter:
    read = attribute_reader(name)

    def match(event: CloudEvent) -> bool:
        value = read(event.attributes)
        return value is not None and value.startswith(prefix)

    return match
