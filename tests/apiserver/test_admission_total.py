"""Admission runs each kind's conversion, defaults and checks on whatever a client sent: they
must take any JSON and fail only with ValidationError (a 4xx naming the field), so that
admission needs no catch-all around them (an update's immutability check sees invalid
objects too: admission reports its errors together with the others).

Deterministic sweep: every field of one valid manifest per kind, in every served version,
replaced in turn by a value of each JSON type; the same for the stored (defaulted) object
an update compares with.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

import pytest

from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import SCHEME
from kawa.errors import ValidationError

from ..kubectl.cases import CASES, KindCase

T = TypeVar("T")
Path = tuple[str | int, ...]

WRONG: Final[tuple[Any, ...]] = (
    None,
    True,
    -1,
    1.5,
    "",
    "x",
    [],
    [None],
    ["x"],
    [{}],
    {},
    {"name": 1},
    {"a": [1]},
)
"""Values of every JSON type, empty and not, put in place of each field."""


def kind_of(case: KindCase) -> ResourceKind:
    return next(rk for rk in SCHEME.kinds if rk.kind == case.kind)


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into ``value`` but the root, ``apiVersion`` and ``kind`` (admission checks
    those against the request path before any of the kind's functions runs)."""
    if prefix and prefix not in (("apiVersion",), ("kind",)):
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, (*prefix, i))


def variants(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``obj`` with one field replaced by one of :data:`WRONG`, every way."""
    for path in list(paths(obj)):
        for value in WRONG:
            out = copy.deepcopy(obj)
            parent: Any = out
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = copy.deepcopy(value)
            yield out


def valid_or_refused(step: Callable[[], T]) -> T | None:
    """The step's result; ``None`` if it raised ValidationError (any other error fails)."""
    try:
        return step()
    except ValidationError:
        return None


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.kind)
def test_kind_functions_take_any_object(case: KindCase) -> None:
    rk = kind_of(case)
    storage = rk.storage_api_version
    old = rk.default(rk.to_version(case.manifest, storage))
    for api_version in rk.served_api_versions:
        for sent in variants(rk.to_version(case.manifest, api_version)):
            for other in rk.served_api_versions:
                valid_or_refused(lambda: rk.to_version(sent, other))  # noqa: B023
            converted = valid_or_refused(lambda: rk.to_version(sent, storage))  # noqa: B023
            if converted is None:
                continue
            stored = valid_or_refused(lambda: rk.default(converted))  # noqa: B023
            if stored is None:
                continue
            valid_or_refused(lambda: rk.validate(stored))  # noqa: B023
            valid_or_refused(lambda: rk.validate_update(old, stored))  # noqa: B023
    for stored_before in variants(old):  # what an update is compared with
        valid_or_refused(lambda: rk.validate_update(stored_before, old))  # noqa: B023
