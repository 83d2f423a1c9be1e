"""Trigger filters: compiled once per trigger, called by the broker for every event.

:func:`compile_trigger` turns a validated :class:`~kawa.apis.eventing.Trigger` into a
:class:`Filter` -- a plain callable ``event -> bool`` built from closures, so no filter dict is
interpreted per event. One module per dialect (``attributes``, ``exact``, ``prefix``,
``suffix``, ``all``, ``any``, ``not_``); :mod:`.compile` puts them together.
"""

from kawa.filters.base import Filter, match_all
from kawa.filters.compile import compile_filter, compile_filters, compile_trigger, parse_filters

__all__ = [
    "Filter",
    "compile_filter",
    "compile_filters",
    "compile_trigger",
    "match_all",
    "parse_filters",
]
