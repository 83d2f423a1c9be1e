"""The ``exact`` dialect: each attribute's string form equals the value (entries ANDed).

A missing attribute does not match. Called by :mod:`kawa.filters.compile`.
"""

from __future__ import annotations

from collections.abc import Mapping

from kawa.cloudevents import CloudEvent
from kawa.filters import all as all_
from kawa.filters.base import Filter, attribute_reader


def exact_filter(attributes: Mapping[str, str]) -> Filter:
    """Matches when every ``name: value`` entry is exactly the event's attribute."""
    return all_.all_filter([_exact(name, value) for name, value in attributes.items()])


def _exact(name: str, expected: str) -> Filter:
    read = attribute_reader(name)

    def match(event: CloudEvent) -> bool:
        return read(event.attributes) == expected

    return match
