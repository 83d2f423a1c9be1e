"""The Event kind (core/v1), also served as ``events.k8s.io/v1``.

An Event reports something that happened to an object (``involvedObject``): a reason, a
message, who saw it (``source`` / ``reportingComponent``), when and how often. kawa's
controllers and process supervisor record them; the ApiServerSource turns them into
CloudEvents. :func:`convert_event` translates between core/v1 (storage) and
events.k8s.io/v1, whose fields have other names (``regarding``, ``note``,
``deprecatedCount``...); the cell functions compute ``kubectl get events`` columns.
Declared in :mod:`kawa.apis.core`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.core import fields
from kawa.apis.core.fields import s_int, s_obj, s_str, s_time
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Event"
EVENTS_API_VERSION: Final = "events.k8s.io/v1"

NORMAL: Final = "Normal"
WARNING: Final = "Warning"
TYPES: Final = (NORMAL, WARNING)

_REFERENCE_FIELDS: Final = (
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
)
_STRING_FIELDS: Final = ("reason", "message", "action", "reportingComponent", "reportingInstance")
_TIME_FIELDS: Final = ("firstTimestamp", "lastTimestamp", "eventTime")
_FRACTION: Final = re.compile(r"\.\d+")

# core/v1 name -> events.k8s.io/v1 name, for the fields that are renamed.
_RENAMED: Final = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)


@dataclass(frozen=True, slots=True)
class ObjectReference:
    """``involvedObject``: the object an Event is about."""

    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """A validated core/v1 Event (timestamps as their RFC 3339 strings)."""

    namespace: str
    name: str
    involved_object: ObjectReference
    reason: str
    message: str
    type: str
    count: int
    source_component: str
    source_host: str
    first_timestamp: str
    last_timestamp: str
    event_time: str
    action: str
    reporting_component: str
    reporting_instance: str


def default_event(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` (an Event has no defaults)."""
    return fields.copy_object(obj)


def _read_reference(
    value: Mapping[str, Any], path: str, errors: list[FieldError]
) -> ObjectReference:
    got = {
        key: meta.read_str(value, key, meta.join(path, key), errors) or ""
        for key in _REFERENCE_FIELDS
    }
    return ObjectReference(
        kind=got["kind"],
        namespace=got["namespace"],
        name=got["name"],
        uid=got["uid"],
        api_version=got["apiVersion"],
        resource_version=got["resourceVersion"],
        field_path=got["fieldPath"],
    )


def parse_event(obj: Mapping[str, Any]) -> Event:
    """Validate a core/v1 Event dict and return its typed view."""
    errors: list[FieldError] = []
    fields.check_header(obj, API_VERSION, KIND, errors, namespaced=True)
    namespace = meta.namespace_of(obj)
    involved = meta.read_mapping(obj, "involvedObject", "involvedObject", errors)
    if involved is None and "involvedObject" not in obj:
        errors.append(FieldError("involvedObject", "required field is missing"))
    ref = _read_reference(involved or {}, "involvedObject", errors)
    if ref.namespace and ref.namespace != namespace:
        errors.append(
            FieldError(
                "involvedObject.namespace",
                f"invalid value {ref.namespace!r}: does not match event.namespace {namespace!r}",
            )
        )
    text = {key: meta.read_str(obj, key, key, errors) or "" for key in _STRING_FIELDS}
    times = {key: meta.read_str(obj, key, key, errors) or "" for key in _TIME_FIELDS}
    type_ = fields.read_enum(obj, "type", "type", errors, TYPES) or ""
    count = fields.read_int(obj, "count", "count", errors, minimum=0) or 0
    source = meta.read_mapping(obj, "source", "source", errors) or {}
    component = meta.read_str(source, "component", "source.component", errors) or ""
    host = meta.read_str(source, "host", "source.host", errors) or ""
    series = meta.read_mapping(obj, "series", "series", errors)
    if series is not None:
        fields.read_int(series, "count", "series.count", errors, minimum=0)
        meta.read_str(series, "lastObservedTime", "series.lastObservedTime", errors)
    meta.read_mapping(obj, "related", "related", errors)
    fields.raise_if(errors, KIND, obj, namespaced=True)
    return Event(
        namespace=namespace,
        name=fields.name_of(obj),
        involved_object=ref,
        reason=text["reason"],
        message=text["message"],
        type=type_,
        count=count,
        source_component=component,
        source_host=host,
        first_timestamp=times["firstTimestamp"],
        last_timestamp=times["lastTimestamp"],
        event_time=times["eventTime"],
        action=text["action"],
        reporting_component=text["reportingComponent"],
        reporting_instance=text["reportingInstance"],
    )


def validate_event(obj: Mapping[str, Any]) -> None:
    parse_event(obj)


def validate_event_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Events may be updated freely (recorders bump ``count`` and ``lastTimestamp``)."""


def convert_event(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` (either served version) as ``api_version`` (``v1`` or ``events.k8s.io/v1``).

    Renamed fields follow Kubernetes' conversion: ``involvedObject``/``regarding``,
    ``message``/``note``, ``reportingComponent``/``reportingController``,
    ``source``/``deprecatedSource``, ``firstTimestamp``/``deprecatedFirstTimestamp``,
    ``lastTimestamp``/``deprecatedLastTimestamp``, ``count``/``deprecatedCount``; the rest
    (reason, type, action, eventTime, series, related, reportingInstance) keep their names.
    A round trip gives back the same object.
    """
    if api_version not in (API_VERSION, EVENTS_API_VERSION):
        raise ValueError(f"an Event is not served as {api_version!r}")
    out = fields.copy_object(obj)
    if out.get("apiVersion") == api_version:
        return out
    pairs = _RENAMED if api_version == EVENTS_API_VERSION else [(b, a) for a, b in _RENAMED]
    renamed = {new: out.pop(old) for old, new in pairs if old in out}
    out.update(renamed)
    out["apiVersion"] = api_version
    return out


# -- kubectl columns ---------------------------------------------------------------------------


def _seconds(timestamp: Any) -> str:
    """An RFC 3339 (micro)timestamp with the fraction dropped; ``""`` when not a string."""
    return _FRACTION.sub("", timestamp, count=1) if isinstance(timestamp, str) else ""


def last_seen(obj: Mapping[str, Any]) -> str:
    """LAST SEEN (a timestamp; shown as an age): the series' last, lastTimestamp or eventTime."""
    series = obj.get("series")
    if isinstance(series, Mapping) and series.get("lastObservedTime"):
        return _seconds(series["lastObservedTime"])
    return _seconds(obj.get("lastTimestamp") or obj.get("eventTime"))


def first_seen(obj: Mapping[str, Any]) -> str:
    """FIRST SEEN (a timestamp): firstTimestamp, else eventTime."""
    return _seconds(obj.get("firstTimestamp") or obj.get("eventTime"))


def _reference(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = obj.get("involvedObject")
    return ref if isinstance(ref, Mapping) else {}


def object_cell(obj: Mapping[str, Any]) -> str:
    """OBJECT: ``kind/name`` with the kind lowercased (``pod/busybox``)."""
    ref = _reference(obj)
    return f"{str(ref.get('kind') or '').lower()}/{ref.get('name') or ''}"


def subobject_cell(obj: Mapping[str, Any]) -> str:
    return str(_reference(obj).get("fieldPath") or "")


def source_cell(obj: Mapping[str, Any]) -> str:
    """SOURCE: ``component, host`` (the reporting controller/instance when source is empty)."""
    source = obj.get("source")
    source = source if isinstance(source, Mapping) else {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or obj.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def count_cell(obj: Mapping[str, Any]) -> int:
    """COUNT: the series' count, else count, else 1 (a singleton event)."""
    series = obj.get("series")
    if isinstance(series, Mapping) and isinstance(series.get("count"), int):
        return int(series["count"])
    count = obj.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) and count else 1


_REF_SCHEMA: Final = s_obj(
    "A reference to an object.",
    {
        "kind": s_str("Kind of the object (Pod, Broker...)."),
        "namespace": s_str("Namespace of the object; must be the Event's own when set."),
        "name": s_str("Name of the object."),
        "uid": s_str("UID of the object."),
        "apiVersion": s_str("API version of the object."),
        "resourceVersion": s_str("The object's resourceVersion the Event was recorded against."),
        "fieldPath": s_str(
            "A part of the object the Event is about, such as spec.containers{app}."
        ),
    },
)

SCHEMA: Final = s_obj(
    "An Event: a report of something that happened to an object.",
    {
        "involvedObject": _REF_SCHEMA,
        "reason": s_str("A short, machine-readable CamelCase cause (such as Started)."),
        "message": s_str("A human-readable description of what happened."),
        "source": s_obj(
            "Who recorded the Event.",
            {
                "component": s_str("The component that recorded it (such as kubelet)."),
                "host": s_str("The host it runs on."),
            },
        ),
        "firstTimestamp": s_time("When the Event was first recorded."),
        "lastTimestamp": s_time("When the Event was most recently recorded."),
        "count": s_int("How many times the Event has occurred.", minimum=0),
        "type": s_str("Normal or Warning.", enum=TYPES),
        "eventTime": s_time("When the Event first happened, with microseconds."),
        "series": s_obj(
            "A repeating Event's series data.",
            {
                "count": s_int("Occurrences in the series so far.", minimum=0),
                "lastObservedTime": s_time("When the last occurrence was seen."),
            },
        ),
        "action": s_str("What was done, or failed, about the object."),
        "related": _REF_SCHEMA | {"description": "A second object involved, if any."},
        "reportingComponent": s_str("The controller that emitted the Event."),
        "reportingInstance": s_str("The controller instance that emitted the Event."),
    },
)
