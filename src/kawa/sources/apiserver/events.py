"""The CloudEvents an ApiServerSource sends, and which objects it sends them for (pure).

Per Knative's ApiServerSource adapter and kawa's contract:

- types ``dev.knative.apiserver.resource.{add,update,delete}`` (mode ``Resource``: the data is
  the object) and ``dev.knative.apiserver.ref.{add,update,delete}`` (mode ``Reference``: the
  data is ``{kind, namespace, name, apiVersion}``, the fields of a Kubernetes
  ObjectReference in its JSON order, ``namespace`` left out for cluster-scoped objects);
- ``source``: the URL of the API server watched; ``subject``:
  ``/apis/<apiVersion>/namespaces/<namespace>/<plural>/<name>`` (``/apis/<apiVersion>/
  <plural>/<name>`` for cluster-scoped objects); extensions ``kind``, ``apiversion``,
  ``name`` and ``namespace`` (the last one only when the object has a namespace);
- a fresh UUID ``id``, ``time`` = when the change was seen, ``datacontenttype``
  ``application/json``.

:func:`selected` applies a resource's label selector and the source's ``owner`` filter.
Called by :mod:`kawa.sources.apiserver.adapter`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson

from kawa.apis.label_selector import LabelSelector
from kawa.apis.sources.apiserversource import Mode
from kawa.cloudevents.event import AttributeValue, CloudEvent

Change = Literal["add", "update", "delete"]

RESOURCE_PREFIX: Final = "dev.knative.apiserver.resource."
REF_PREFIX: Final = "dev.knative.apiserver.ref."
CHANGES: Final[tuple[Change, ...]] = ("add", "update", "delete")
CONTENT_TYPE: Final = "application/json"


def event_type(mode: Mode, change: Change) -> str:
    return (RESOURCE_PREFIX if mode == "Resource" else REF_PREFIX) + change


def event_types(mode: Mode) -> tuple[str, ...]:
    """The three types a source of ``mode`` sends (for ``status.ceAttributes``)."""
    return tuple(event_type(mode, change) for change in CHANGES)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def subject(api_version: str, plural: str, namespace: str, name: str) -> str:
    if namespace:
        return f"/apis/{api_version}/namespaces/{namespace}/{plural}/{name}"
    return f"/apis/{api_version}/{plural}/{name}"


def reference(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's ObjectReference, as the Reference mode sends it."""
    meta = _meta(obj)
    ref = {"kind": str(obj.get("kind", ""))}
    if meta.get("namespace"):
        ref["namespace"] = str(meta["namespace"])
    ref["name"] = str(meta.get("name", ""))
    ref["apiVersion"] = str(obj.get("apiVersion", ""))
    return ref


def make_event(
    *,
    source: str,
    mode: Mode,
    change: Change,
    obj: Mapping[str, Any],
    plural: str,
    now: datetime | None = None,
) -> CloudEvent:
    """The CloudEvent for one change of ``obj`` (see the module docstring)."""
    meta = _meta(obj)
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    name = str(meta.get("name", ""))
    namespace = str(meta.get("namespace") or "")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    attributes: dict[str, AttributeValue] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type(mode, change),
        "subject": subject(api_version, plural, namespace, name),
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "datacontenttype": CONTENT_TYPE,
        "kind": kind,
        "apiversion": api_version,
        "name": name,
    }
    if namespace:
        attributes["namespace"] = namespace
    if mode == "Resource":
        # an object's keys in order, as Go's encoding of Kubernetes' unstructured objects
        return CloudEvent(attributes, orjson.dumps(obj, option=orjson.OPT_SORT_KEYS))
    return CloudEvent(attributes, orjson.dumps(reference(obj)))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = _meta(obj).get("labels")
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def owned_by(obj: Mapping[str, Any], owner: tuple[str, str]) -> bool:
    """Whether one of the object's ``ownerReferences`` has the ``(apiVersion, kind)``."""
    refs = _meta(obj).get("ownerReferences")
    if not isinstance(refs, list):
        return False
    return any(
        isinstance(ref, Mapping) and (ref.get("apiVersion"), ref.get("kind")) == owner
        for ref in refs
    )


def selected(
    obj: Mapping[str, Any], selector: LabelSelector | None, owner: tuple[str, str] | None
) -> bool:
    """Whether a source with this label ``selector`` and ``owner`` filter sends events for
    ``obj``."""
    if selector is not None and not selector.matches(labels_of(obj)):
        return False
    return owner is None or owned_by(obj, owner)
