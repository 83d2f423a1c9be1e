"""The one nesting limit for the JSON and YAML kawa reads, and the checks that apply it.

Every document kawa takes from outside, an API request body (JSON or YAML), a YAML manifest,
a CloudEvent in the JSON format (at the broker ingress, in a subscriber's reply), may nest
objects and lists at most :data:`MAX_NESTING` levels below its top-level value. The limit is
checked before anything recursive meets the value (pydantic, ``copy.deepcopy``, PyYAML's
composer, ``orjson.dumps``), so a deep document is a clear error naming the limit, never a
``RecursionError`` or a 500. The JSON libraries' own limits are higher: ``orjson.loads``
takes 1024 levels (:data:`ORJSON_LOADS_MAX`), ``orjson.dumps`` 254 (:data:`ORJSON_DUMPS_MAX`),
pydantic's JSON parser 200.

Callers: :func:`kawa.apis.meta.json_value_errors` (API bodies and manifests, one pass that
checks more than depth), :class:`kawa.apis.manifests.YamlLoader` (manifests, and YAML API
bodies through :mod:`kawa.apiserver.requests`: it stops composing at the limit), and
:mod:`kawa.cloudevents.jsonformat` (event data, through :func:`dumps_json`). Pure; no I/O.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import orjson

MAX_NESTING: Final = 199
"""How many levels of objects and lists a document may nest below its top-level value.

Counted from the document's top (level 0): ``{"a": {"b": []}}`` nests 2 levels below it. For a
CloudEvent in the JSON format the top is the event object and ``data`` sits at level 1, so
the data may nest ``MAX_NESTING - 1`` levels below its own top. 199 is what pydantic's JSON
parser takes below a top-level object (:mod:`kawa.apis.model.parse` relies on the two
agreeing); no resource kind needs more."""

ORJSON_DUMPS_MAX: Final = 254
"""The deepest nesting ``orjson.dumps`` writes (it raises ``JSONEncodeError`` beyond; pinned
by a test)."""

ORJSON_LOADS_MAX: Final = 1024
"""The deepest nesting ``orjson.loads`` reads (it raises ``JSONDecodeError`` beyond; pinned by
a test)."""

TOO_DEEP: Final = f"nested too deeply (more than {MAX_NESTING} levels)"
"""The message of every nesting error kawa reports."""

_PAD: Final = ORJSON_DUMPS_MAX - MAX_NESTING
if _PAD < 1:  # pragma: no cover - a constant
    raise RuntimeError("MAX_NESTING must stay below what orjson.dumps writes")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def too_deep(value: Any, path: str = "", level: int = 0) -> str | None:
    """The path of the first object or list in ``value`` nested deeper than
    :data:`MAX_NESTING` (``None`` when there is none). ``value`` itself sits ``level`` levels
    below its document's top, at ``path``. Iterative: no depth is too deep for this."""
    stack: list[tuple[Any, str, int]] = [(value, path, level)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, dict):
            if depth > MAX_NESTING:
                return where
            stack.extend((item, _join(where, str(key)), depth + 1) for key, item in current.items())
        elif isinstance(current, list):
            if depth > MAX_NESTING:
                return where
            stack.extend((item, _join(where, i), depth + 1) for i, item in enumerate(current))
    return None


class _Wrappers(threading.local):
    """Per thread and per level, a chain of nested one-element lists to write a value inside
    (see :func:`dumps_json`); built once, the innermost list's slot reused."""

    def __init__(self) -> None:
        self.chains: dict[int, tuple[list[Any], list[Any]]] = {}

    def chain(self, length: int) -> tuple[list[Any], list[Any]]:
        """``(outermost, innermost)`` of a chain of ``length`` lists."""
        found = self.chains.get(length)
        if found is None:
            innermost: list[Any] = [None]
            outermost = innermost
            for _ in range(length - 1):
                outermost = [outermost]
            found = self.chains[length] = (outermost, innermost)
        return found


_WRAPPERS: Final = _Wrappers()


def dumps_json(value: Any, level: int) -> bytes | None:
    """``orjson.dumps(value)``, or ``None`` when ``value`` (``level`` levels below its
    document's top, ``level >= 1``) nests deeper than :data:`MAX_NESTING` or is no JSON.

    The depth check costs no walk of its own (under a microsecond): ``value`` is written
    inside a chain of one-element lists just long enough that ``orjson.dumps`` reaches its own
    recursion limit exactly when ``value`` is too deep, and the chain's brackets are cut from
    the result. Find where with :func:`too_deep`. (No Python code runs inside
    ``orjson.dumps``, and each thread has its own chains, so the reused slot is never shared.)
    """
    pad = _PAD + level - 1
    outermost, innermost = _WRAPPERS.chain(pad)
    innermost[0] = value
    try:
        written = orjson.dumps(outermost)
    except orjson.JSONEncodeError:
        return None
    finally:
        innermost[0] = None
    return written[pad:-pad]


def is_depth_error(err: orjson.JSONDecodeError) -> bool:
    """Whether ``orjson.loads`` refused a document for nesting deeper than it reads."""
    return str(err).startswith("depth limit exceeded")
