"""JSONata transformations of CloudEvents: compile an expression once, run it on whole events.

An EventTransform (``eventing.knative.dev/v1alpha1``) reshapes each event it receives with a
JSONata expression whose input is the whole event in the JSON format (context attributes as
top-level keys, ``data`` or ``data_base64``) and whose output is a whole event of the same
shape. :func:`compile_expression` parses once (raising :class:`ExpressionError` with the
parser's position and message: admission refuses such an expression); :func:`apply` runs a
compiled :class:`Expression` on one event and checks that the result is a valid CloudEvent
(raising :class:`TransformError` saying why not). JSONata is ``jsonata-python``, a pure Python
port of the reference implementation (ADR 0068). Pure: no I/O, no event loop.

Used by :mod:`kawa.apis.eventing.eventtransform` (admission) and :mod:`kawa.eventtransform`
(the data plane).
"""

from kawa.transform.events import TransformError, apply, event_input, event_output
from kawa.transform.expression import (
    MAX_DEPTH,
    MAX_SECONDS,
    EvaluationError,
    Expression,
    ExpressionError,
    compile_expression,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_SECONDS",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "TransformError",
    "apply",
    "compile_expression",
    "event_input",
    "event_output",
]
