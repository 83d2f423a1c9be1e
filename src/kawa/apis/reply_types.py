"""kawa's declaration of what a subscriber answers: the annotation ``kawa.dev/reply-types``
(kawa's own, beside Knative's spec), read by the loop analysis (:mod:`kawa.loops`).

Its value is a comma-separated list of CloudEvent types, ``"order.created,order.paid"``: the
types of the replies the subscriber sends back. It is written on the resource that
subscribes: a Trigger (its subscriber's replies go back into the broker), a Subscription
(they go to ``spec.reply``), a Sequence (the replies of its last step, which go to
``spec.reply``) or a Parallel (the replies of its branches). An empty value declares that
the subscriber sends no replies. Without the annotation the replies are unknown, and the
analysis assumes nothing of them.

:func:`reply_types_of` reads it (``None``: not declared, or not valid); :func:`reply_type_errors`
says what is wrong with it at admission (with the annotation as the field path). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from kawa.errors import FieldError

ANNOTATION: Final = "kawa.dev/reply-types"
MAX_TYPES: Final = 32
"""Types one annotation may declare (a subscriber answering more kinds of events than this is
better left undeclared)."""


def _parse(text: str) -> tuple[str, ...]:
    if not text.strip():
        return ()
    types = tuple(part.strip() for part in text.split(","))
    if any(not type_ for type_ in types):
        raise ValueError(f"expected comma-separated CloudEvent types, got an empty one in {text!r}")
    if len(types) > MAX_TYPES:
        raise ValueError(f"expected at most {MAX_TYPES} types, got {len(types)}")
    for type_ in types:
        if not type_.isprintable():
            raise ValueError(f"expected printable CloudEvent types, got {type_!r}")
    return tuple(dict.fromkeys(types))


def reply_type_errors(annotations: Mapping[str, str]) -> list[FieldError]:
    """What is wrong with the reply types in ``annotations`` (none: ``[]``)."""
    text = annotations.get(ANNOTATION)
    if text is None:
        return []
    try:
        _parse(text)
    except ValueError as err:
        return [FieldError(f"metadata.annotations[{ANNOTATION}]", str(err))]
    return []


def reply_types_of(annotations: Mapping[str, str] | None) -> tuple[str, ...] | None:
    """The declared reply types (``()``: no replies); ``None`` when not declared or not
    valid."""
    text = (annotations or {}).get(ANNOTATION)
    if not isinstance(text, str):
        return None
    try:
        return _parse(text)
    except ValueError:
        return None
