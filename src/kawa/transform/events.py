"""A whole CloudEvent through a JSONata expression: the event in, a valid event out.

The input is the event in the JSON format (:func:`kawa.cloudevents.jsonformat.to_json_obj`):
context attributes and extensions as top-level keys, JSON ``data`` as JSON, text ``data`` as
a string, binary data as ``data_base64``. The output must be a JSON object that is a valid
CloudEvent in that format (``specversion``, ``id``, ``source`` and ``type`` non-empty strings,
attribute types as the spec says, extension names ``a-z0-9``): anything else raises a
:class:`TransformError` that says what is wrong, with the attribute's name. The result is
first made plain JSON (a function value, which JSONata can yield, is refused there), so that
the event decoder sees the same data an HTTP client could have sent.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from kawa.cloudevents import jsonformat
from kawa.cloudevents.event import CloudEvent
from kawa.cloudevents.validation import CloudEventError
from kawa.errors import KawaError
from kawa.transform.expression import EvaluationError, Expression

EVALUATION_FAILED: Final = "EvaluationFailed"
NOT_A_CLOUDEVENT: Final = "NotACloudEvent"


class TransformError(KawaError):
    """An event the expression could not transform: ``reason`` (:data:`EVALUATION_FAILED`
    or :data:`NOT_A_CLOUDEVENT`) and ``message`` (why)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def event_input(event: CloudEvent) -> dict[str, Any]:
    """What an expression sees of ``event``: its JSON format as plain data."""
    return jsonformat.to_json_obj(event)


def event_output(result: Any) -> CloudEvent:
    """The CloudEvent an expression's ``result`` describes; raises :class:`TransformError`
    (:data:`NOT_A_CLOUDEVENT`) saying why it is none."""
    if result is None:
        raise TransformError(NOT_A_CLOUDEVENT, "the expression yielded nothing, not an event")
    if not isinstance(result, dict):
        raise TransformError(
            NOT_A_CLOUDEVENT,
            f"the expression yielded {_json_type(result)}, not an event (a JSON object)",
        )
    try:
        plain = orjson.loads(orjson.dumps(result))
    except orjson.JSONEncodeError as err:
        raise TransformError(
            NOT_A_CLOUDEVENT, f"the expression's result is not JSON data: {err}"
        ) from None
    try:
        return jsonformat.from_json_obj(plain)
    except CloudEventError as err:
        problems = "; ".join(str(e) for e in err.errors)
        raise TransformError(
            NOT_A_CLOUDEVENT, f"the expression's result is not a valid CloudEvent: {problems}"
        ) from None


def apply(expression: Expression, event: CloudEvent) -> CloudEvent:
    """``event`` transformed by ``expression``; raises :class:`TransformError`."""
    try:
        result = expression.evaluate(event_input(event))
    except EvaluationError as err:
        raise TransformError(EVALUATION_FAILED, f"the expression failed: {err}") from None
    return event_output(result)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "a function"
