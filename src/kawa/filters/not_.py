"""The ``not`` dialect: matches when the nested filter does not.

Called by :mod:`kawa.filters.compile`.
"""

from __future__ import annotations

from kawa.cloudevents import CloudEvent
from kawa.filters.base import Filter


def not_filter(inner: Filter) -> Filter:
    """The negation of ``inner``."""

    def negated(event: CloudEvent) -> bool:
        return not inner(event)

    return negated
