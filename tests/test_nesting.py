"""The one nesting limit: the orjson limits it is built on, and the checks that apply it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest

from kawa import nesting
from kawa.apis import meta
from kawa.apis.model import parse


def chain(levels: int, kind: str = "list") -> Any:
    """``levels`` nested lists (or objects ``{"k": ...}``) around ``1``."""
    value: Any = 1
    for _ in range(levels):
        value = [value] if kind == "list" else {"k": value}
    return value


def test_orjson_limits_are_the_ones_kawa_counts_on() -> None:
    """``dumps_json`` relies on orjson.dumps refusing exactly past ORJSON_DUMPS_MAX levels; the
    structured decoders name the limit when orjson.loads refuses past ORJSON_LOADS_MAX."""
    for kind in ("list", "object"):
        orjson.dumps(chain(nesting.ORJSON_DUMPS_MAX, kind))
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(chain(nesting.ORJSON_DUMPS_MAX + 1, kind))
    limit = nesting.ORJSON_LOADS_MAX
    orjson.loads(b"[" * limit + b"]" * limit)
    with pytest.raises(orjson.JSONDecodeError) as info:
        orjson.loads(b"[" * (limit + 1) + b"]" * (limit + 1))
    assert nesting.is_depth_error(info.value)
    with pytest.raises(orjson.JSONDecodeError) as other:
        orjson.loads(b"[1,")
    assert not nesting.is_depth_error(other.value)


def test_one_limit_for_api_bodies_and_events() -> None:
    assert meta.MAX_NESTING == parse.MAX_DEPTH == nesting.MAX_NESTING
    assert f"nested too deeply (more than {nesting.MAX_NESTING} levels)" == nesting.TOO_DEEP


@pytest.mark.parametrize("kind", ["list", "object"])
@pytest.mark.parametrize("level", [0, 1, 5])
def test_too_deep_and_dumps_json_agree_at_the_limit(kind: str, level: int) -> None:
    fits = nesting.MAX_NESTING + 1 - level  # the innermost container sits at MAX_NESTING
    assert nesting.too_deep(chain(fits, kind), "v", level) is None
    assert nesting.dumps_json(chain(fits, kind), level) == orjson.dumps(chain(fits, kind))
    where = nesting.too_deep(chain(fits + 1, kind), "v", level)
    step = "[0]" if kind == "list" else ".k"
    assert where == "v" + step * fits
    assert nesting.dumps_json(chain(fits + 1, kind), level) is None
    assert nesting.dumps_json(chain(5000, kind), level) is None


def test_too_deep_has_no_recursion_limit() -> None:
    assert nesting.too_deep(chain(100_000)) == "[0]" * (nesting.MAX_NESTING + 1)
    assert nesting.too_deep({"a": [{"b": "x"}] * 3, "c": None}) is None


def test_dumps_json_in_many_threads_writes_each_value() -> None:
    """Each thread has its own wrapper chains: values written at once never mix."""
    values = [{"n": n, "deep": chain(n)} for n in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        written = list(pool.map(lambda v: nesting.dumps_json(v, 1), values * 50))
    assert written == [orjson.dumps(v) for v in values * 50]
