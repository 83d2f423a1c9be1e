"""The ``filter.attributes`` dialect: every listed attribute must match (entries ANDed).

The attribute must exist; the value ``""`` matches any non-empty value; any other value must
equal the attribute's string form exactly (case-sensitive). An empty map matches everything.
Called by :mod:`kawa.filters.compile`.
"""

from __future__ import annotations

from collections.abc import Mapping

from kawa.cloudevents import CloudEvent
from kawa.filters import all as all_
from kawa.filters.base import AttributeReader, Filter, attribute_reader

ANY_VALUE = ""
"""Knative's ``TriggerAnyFilter``: the attribute must be present with a non-empty value."""


def attributes_filter(attributes: Mapping[str, str]) -> Filter:
    """The filter of a ``filter.attributes`` map."""
    return all_.all_filter([_check(name, value) for name, value in attributes.items()])


def _check(name: str, expected: str) -> Filter:
    read: AttributeReader = attribute_reader(name)
    if expected == ANY_VALUE:

        def present(event: CloudEvent) -> bool:
            return bool(read(event.attributes))

        return present

    def equal(event: CloudEvent) -> bool:
        return read(event.attributes) == expected

    return equal
