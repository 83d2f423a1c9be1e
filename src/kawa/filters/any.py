"""The ``any`` dialect: at least one nested filter matches (short-circuits on the first hit).

An empty list matches nothing (admission rejects empty ``any`` lists). Called by
:mod:`kawa.filters.compile`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kawa.cloudevents import CloudEvent
from kawa.filters.base import Filter


def any_filter(filters: Sequence[Filter]) -> Filter:
    """Matches when some filter in ``filters`` matches."""
    members = tuple(filters)
    if len(members) == 1:
        return members[0]

    def some(event: CloudEvent) -> bool:
        # A plain loop: faster than any() over a generator on this per-event path.
        for member in members:  # noqa: SIM110
            if member(event):
                return True
        return False

    return some
