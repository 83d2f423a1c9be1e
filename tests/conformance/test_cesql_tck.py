"""The CloudEvents SQL v1.0.0 TCK (all 275 cases), against kawa.cesql's evaluators (compiled,
AST walker, and the explaining walker of ``kawa why``).

The YAML files live in ``../shared/conformance/cesql-tck`` beside the project; the test skips
when that folder is absent. The files are read through YAML's node graph rather than a
loader's implicit typing: expressions are always taken as written (``TRUE``, ``0`` and
``-10`` are expressions, not a bool and ints), timestamps stay text, and only plain scalars
``true``/``false`` (any case) and integers become Booleans and Integers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kawa.cesql import CesqlError, CesqlParseError, Result, compile_expression, evaluate_ast
from kawa.cesql.explain import explain
from kawa.cloudevents import CloudEvent

TCK = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cesql-tck"
_INT = re.compile(r"[-+]?[0-9]+")

BASE_EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "full-event",
        "source": "http://example.com/source",
        "type": "com.example.FullEvent",
        "subject": "topic",
        "time": "2020-03-21T12:34:56.78Z",
        "dataschema": "http://example.com/schema",
        "datacontenttype": "text/json",
        "exbool": True,
        "exint": 42,
        "exstring": "exstring",
        "exbinary": bytes([0, 1, 2, 3]),
        "exurl": "http://example.com/source",
        "extime": "2020-03-21T12:34:56.78Z",
    },
    b"hello",
)


def _plain(node: yaml.Node, key: str = "") -> Any:
    if isinstance(node, yaml.MappingNode):
        return {
            str(k.value): _plain(v, str(k.value))
            for k, v in node.value  # (key node, value node) pairs
        }
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    if not isinstance(node, yaml.ScalarNode):
        raise TypeError(f"unexpected YAML node {node!r}")
    text = str(node.value)
    if key == "expression" or node.style in ("'", '"'):
        return text
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    return text


def _cases() -> list[Any]:
    if not TCK.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"CESQL TCK not found at {TCK}"))]
    cases = []
    for path in sorted(TCK.glob("*.yaml")):
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        if root is None:
            continue
        suite = _plain(root)
        for index, test in enumerate(suite["tests"]):
            cases.append(pytest.param(test, id=f"{path.stem}[{index}] {test['name']}"))
    return cases


CASES = _cases()


def test_tck_has_all_275_cases() -> None:
    if not TCK.is_dir():
        pytest.skip(f"CESQL TCK not found at {TCK}")
    assert len(CASES) == 275


def _event(test: dict[str, Any]) -> CloudEvent:
    if "event" in test:
        attrs = dict(test["event"])
        data = attrs.pop("data", None)
        return CloudEvent(attrs, None if data is None else str(data).encode())
    return BASE_EVENT.with_attributes(test.get("eventOverrides") or {})


def _compiled(text: str, event: CloudEvent) -> Result:
    return compile_expression(text).evaluate(event)


def _explained(text: str, event: CloudEvent) -> Result:
    explained = explain(text, event)
    return Result(explained.value, () if explained.error is None else (explained.error,))


@pytest.mark.parametrize(
    "evaluate", [_compiled, evaluate_ast, _explained], ids=["compiled", "ast", "explain"]
)
@pytest.mark.parametrize("test", CASES)
def test_tck_case(test: dict[str, Any], evaluate: Callable[[str, CloudEvent], Result]) -> None:
    expression = test["expression"]
    event = _event(test)
    if test.get("error") == "parse":
        with pytest.raises(CesqlParseError):
            evaluate(expression, event)
        return
    result = evaluate(expression, event)
    expected = test["result"]
    assert type(result.value) is type(expected), (result, expected)
    assert result.value == expected, result
    kinds = [e.kind for e in result.errors]
    assert all(isinstance(e, CesqlError) for e in result.errors)
    assert kinds == ([test["error"]] if "error" in test else []), result.errors


def test_matches_agrees_with_the_filter_rule() -> None:
    if not TCK.is_dir():
        pytest.skip(f"CESQL TCK not found at {TCK}")
    for param in CASES:
        test = param.values[0]
        if test.get("error") == "parse":
            continue
        expression = compile_expression(test["expression"])
        event = _event(test)
        result = expression.evaluate(event)
        assert expression.matches(event) is (result.value is True and not result.errors)
