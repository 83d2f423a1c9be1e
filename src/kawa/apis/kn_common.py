"""Helpers shared by the Knative kinds: conversion between versions, sink status, columns.

Kinds with several versions convert with the *stash*: fields one version cannot hold are
kept in an annotation so that converting there and back is lossless (:func:`stash`,
:func:`unstash`, :func:`convert_unsupported`); a conversion that checks an older version's
own rules raises with :func:`raise_if_errors`. The sources (:mod:`kawa.apis.sources`,
:mod:`kawa.sources`) use the sink status helpers; every kind's ``kubectl get`` columns use
:data:`AGE`, :data:`READY`, :data:`REASON`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from kawa.apis import meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.kinds import PrinterColumn
from kawa.errors import FieldError, ValidationError

STASH_PREFIX: Final = "conversion.kawa.dev/"
"""Annotations ``conversion.kawa.dev/<version>`` keep, as JSON, what a version cannot hold."""

SINK_PROVIDED: Final = "SinkProvided"


def raise_if_errors(errors: list[FieldError], kind: str, obj: Mapping[str, Any]) -> None:
    if errors:
        raise ValidationError(errors, subject=meta.subject_of(kind, obj))


# -- conversion ------------------------------------------------------------------------------


def stash(obj: meta.Object, version: str, data: Mapping[str, Any]) -> None:
    """Keep ``data`` (what ``version`` cannot hold) in the object's annotations, as JSON."""
    if not data:
        return
    metadata = obj.setdefault("metadata", {})
    if isinstance(metadata, dict):
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict):
            annotations = metadata["annotations"] = {}
        annotations[STASH_PREFIX + version] = orjson.dumps(
            data, option=orjson.OPT_SORT_KEYS
        ).decode()


def unstash(obj: meta.Object, version: str) -> dict[str, Any]:
    """Remove and return what :func:`stash` kept for ``version`` (``{}`` when nothing)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("annotations"), dict):
        return {}
    annotations = metadata["annotations"]
    raw = annotations.pop(STASH_PREFIX + version, None)
    if not annotations:
        del metadata["annotations"]
    if not isinstance(raw, str):
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def convert_unsupported(kind: str, api_version: str, served: Iterable[str]) -> ValidationError:
    return ValidationError.single(
        "apiVersion", f"{kind} cannot be converted to {api_version!r}; served: {', '.join(served)}"
    )


def deep_copy(obj: Mapping[str, Any]) -> meta.Object:
    return copy.deepcopy(dict(obj))


# -- status of sources -----------------------------------------------------------------------


def mark_sink(
    conditions: ConditionSet,
    status: dict[str, Any],
    uri: str | None,
    *,
    clock: Clock,
    condition: str = SINK_PROVIDED,
) -> None:
    """Record the resolved sink in ``status.sinkUri`` (``None``: not resolvable, False)."""
    if uri:
        status["sinkUri"] = uri
        conditions.mark_true(status, condition, clock=clock)
    else:
        status.pop("sinkUri", None)
        conditions.mark_false(
            status, condition, "SinkEmpty", "Sink has resolved to empty.", clock=clock
        )


def mark_no_sink(
    conditions: ConditionSet,
    status: dict[str, Any],
    reason: str,
    message: str,
    *,
    clock: Clock,
    condition: str = SINK_PROVIDED,
) -> None:
    status.pop("sinkUri", None)
    conditions.mark_false(status, condition, reason, message, clock=clock)


# -- printer columns -------------------------------------------------------------------------

_READY_PATH: Final = '.status.conditions[?(@.type=="Ready")]'
AGE: Final = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
READY: Final = PrinterColumn("Ready", "string", f"{_READY_PATH}.status")
REASON: Final = PrinterColumn("Reason", "string", f"{_READY_PATH}.reason")
URL: Final = PrinterColumn("URL", "string", ".status.address.url")
SINK: Final = PrinterColumn("Sink", "string", ".status.sinkUri")
