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
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from kawa.apis import meta
from kawa.apis.core.references import ObjectReference
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, json_copy, parse_object
from kawa.apis.model.types import DateTime
from kawa.errors import FieldError

API_VERSION: Final = "v1"
KIND: Final = "Event"
EVENTS_API_VERSION: Final = "events.k8s.io/v1"

NORMAL: Final = "Normal"
WARNING: Final = "Warning"
EventType = Literal["Normal", "Warning"]
TYPES: Final = (NORMAL, WARNING)

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


class EventSource(Model):
    """Who recorded the Event."""

    component: Annotated[str, doc("The component that recorded it (such as kubelet).")] = ""
    host: Annotated[str, doc("The host it runs on.")] = ""


class EventSeries(Model):
    """A repeating Event's series data."""

    count: Annotated[int | None, doc("Occurrences in the series so far.", ge=0)] = None
    last_observed_time: Annotated[DateTime | None, doc("When the last occurrence was seen.")] = None


class Event(KubeObject):
    """An Event: a report of something that happened to an object."""

    involved_object: Annotated[ObjectReference, doc("The object the Event is about.")]
    reason: Annotated[str, doc("A short, machine-readable CamelCase cause (such as Started).")] = ""
    message: Annotated[str, doc("A human-readable description of what happened.")] = ""
    source: Annotated[EventSource | None, doc("Who recorded the Event.")] = None
    first_timestamp: Annotated[DateTime | None, doc("When the Event was first recorded.")] = None
    last_timestamp: Annotated[
        DateTime | None, doc("When the Event was most recently recorded.")
    ] = None
    count: Annotated[int | None, doc("How many times the Event has occurred.", ge=0)] = None
    type: Annotated[EventType | None, doc("Normal or Warning.")] = None
    event_time: Annotated[
        DateTime | None, doc("When the Event first happened, with microseconds.")
    ] = None
    series: Annotated[EventSeries | None, doc("A repeating Event's series data.")] = None
    action: Annotated[str, doc("What was done, or failed, about the object.")] = ""
    related: Annotated[ObjectReference | None, doc("A second object involved, if any.")] = None
    reporting_component: Annotated[str, doc("The controller that emitted the Event.")] = ""
    reporting_instance: Annotated[str, doc("The controller instance that emitted the Event.")] = ""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        involved = self.involved_object.namespace
        if involved and involved != self.namespace:
            yield FieldError(
                "involvedObject.namespace",
                f"invalid value {involved!r}: does not match event.namespace {self.namespace!r}",
            )


def parse_event(obj: Mapping[str, Any]) -> Event:
    """A Event dict defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` listing every problem at its field path."""
    return parse_object(Event, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True)


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
    out, _ = json_copy(obj)
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
