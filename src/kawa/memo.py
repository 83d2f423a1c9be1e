"""Remembering what the hot path works out again for every event, from values that repeat.

:func:`short_keys` memoizes a function of a string (and further arguments), like
:func:`functools.lru_cache`, but only for strings up to ``longest`` characters: a longer one
is worked out every time, so a sender's huge Host, path or attribute values never stay in
memory (ADR 0077). The function must be pure and return something nobody changes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")


def short_keys(
    maxsize: int, longest: int
) -> Callable[[Callable[Concatenate[str, P], T]], Callable[Concatenate[str, P], T]]:
    """``fn`` remembered for up to ``maxsize`` calls whose first argument has at most
    ``longest`` characters (the least recently used is forgotten first)."""

    def wrap(fn: Callable[Concatenate[str, P], T]) -> Callable[Concatenate[str, P], T]:
        cached = cast(Callable[Concatenate[str, P], T], functools.lru_cache(maxsize)(fn))

        @functools.wraps(fn)
        def call(value: str, /, *args: P.args, **kwargs: P.kwargs) -> T:
            if len(value) > longest:
                return fn(value, *args, **kwargs)
            return cached(value, *args, **kwargs)

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return call

    return wrap


def remembered(fn: Callable[..., object]) -> int:
    """How many results the :func:`short_keys` function ``fn`` holds now."""
    return int(getattr(fn, "cache_info")().currsize)  # noqa: B009 (set by short_keys)
