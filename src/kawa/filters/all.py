"""The ``all`` dialect: every nested filter matches (short-circuits on the first miss).

An empty list matches everything (as Knative's ``NewAllFilter`` of nothing does); admission
rejects empty ``all`` lists, but :mod:`kawa.filters.compile` uses this for ``spec.filters``.
Called by the map dialects and :mod:`kawa.filters.compile`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kawa.cloudevents import CloudEvent
from kawa.filters.base import Filter, match_all


def all_filter(filters: Sequence[Filter]) -> Filter:
    """Matches when every filter in ``filters`` matches."""
    members = tuple(filters)
    if not members:
        return match_all
    if len(members) == 1:
        return members[0]
    if len(members) == 2:
        first, second = members

        def both(event: CloudEvent) -> bool:
            return first(event) and second(event)

        return both

    def every(event: CloudEvent) -> bool:
        # A plain loop: faster than all() over a generator on this per-event path.
        for member in members:  # noqa: SIM110
            if not member(event):
                return False
        return True

    return every
