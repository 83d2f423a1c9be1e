"""Finding the physical channel a Subscription names, and editing its subscribers.

A Subscription's ``spec.channel`` names a channel kind (one whose CRD carries
``messaging.knative.dev/subscribable: "true"``, as Knative's subscription reconciler
checks): an InMemoryChannel is its own physical channel; a generic ``Channel`` stands for
its backing channel (``status.channel``). :func:`physical_channel` looks both up (tracking
each, so a change reconciles the Subscription again) or raises :class:`NoChannel` saying
why; :func:`with_subscriber` and :func:`without_subscriber` return the channel with one
``spec.subscribers`` entry put or taken away, and with it the subscriber's delivery limits
(kawa's annotation ``limits.kawa.dev/<uid>``, :mod:`kawa.apis.limits`). Used by
:mod:`.subscription`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kawa.apis import limits, messaging
from kawa.apis.duck import KReference
from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import SCHEME, Scheme
from kawa.errors import KawaError, NotFoundError, ValidationError
from kawa.reconciler.tracker import Track
from kawa.store.base import Obj, ResourceKey, ResourceStore


class NoChannel(KawaError):
    """No physical channel to subscribe to; ``pending`` when it may come by itself (a
    Channel whose backing channel is not made yet), else the Subscription is wrong."""

    def __init__(self, message: str, *, pending: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pending = pending


@dataclass(frozen=True, slots=True)
class PhysicalChannel:
    """The channel whose ``spec.subscribers`` a Subscription is in."""

    key: ResourceKey
    obj: Obj

    @property
    def name(self) -> str:
        return self.key.name


def subscribable(rk: ResourceKind) -> bool:
    """Whether ``rk`` is a channel kind (its CRD is labelled subscribable)."""
    return (messaging.SUBSCRIBABLE_LABEL, "true") in rk.crd_labels


def _channel_kind(ref: KReference, scheme: Scheme) -> ResourceKind:
    try:
        rk = scheme.for_api_version_kind(ref.api_version, ref.kind)
    except ValidationError:
        raise NoChannel(
            f"{ref.kind} ({ref.api_version}) is not a kind kawa serves; a Subscription's "
            "channel is a Channel or an InMemoryChannel (messaging.knative.dev/v1)"
        ) from None
    if not subscribable(rk):
        raise NoChannel(
            f'crd "{rk.resource}" does not contain mandatory label '
            f'"{messaging.SUBSCRIBABLE_LABEL}": {ref.kind} is not a channel'
        )
    return rk


async def _get(
    store: ResourceStore, rk: ResourceKind, namespace: str, name: str, track: Track | None
) -> PhysicalChannel:
    key = ResourceKey(rk.resource, namespace, name)
    if track is not None:
        track(key)
    try:
        return PhysicalChannel(key, await store.get(key))
    except NotFoundError:
        raise NoChannel(f'{rk.resource} "{name}" not found') from None


async def physical_channel(
    store: ResourceStore,
    ref: KReference,
    namespace: str,
    *,
    track: Track | None = None,
    scheme: Scheme = SCHEME,
) -> PhysicalChannel:
    """The channel ``ref`` names, or a Channel's backing channel (see the module)."""
    rk = _channel_kind(ref, scheme)
    found = await _get(store, rk, namespace, ref.name, track)
    if rk.kind != messaging.CHANNEL.kind:
        return found
    status = found.obj.get("status")
    backing = status.get("channel") if isinstance(status, Mapping) else None
    if not isinstance(backing, Mapping) or not backing.get("name"):
        raise NoChannel(
            f'Channel "{ref.name}" has no backing channel yet (status.channel)', pending=True
        )
    backing_ref = KReference(
        api_version=str(backing.get("apiVersion", "")),
        kind=str(backing.get("kind", "")),
        name=str(backing["name"]),
        namespace=namespace,
    )
    backing_rk = _channel_kind(backing_ref, scheme)
    if backing_rk.kind == messaging.CHANNEL.kind:
        raise NoChannel(f'Channel "{ref.name}" is backed by another Channel, not a channel')
    return await _get(store, backing_rk, namespace, backing_ref.name, track)


def subscribers_of(obj: Obj) -> list[dict[str, Any]]:
    spec = obj.get("spec")
    found = spec.get("subscribers") if isinstance(spec, Mapping) else None
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


def _annotations(obj: Obj) -> dict[str, Any]:
    metadata = obj.get("metadata")
    found = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def _with_annotation(out: Obj, key: str, value: str | None) -> None:
    annotations = _annotations(out)
    if value is None:
        annotations.pop(key, None)
    else:
        annotations[key] = value
    metadata = out.setdefault("metadata", {})
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)


def with_subscriber(obj: Obj, entry: dict[str, Any], encoded: str | None = None) -> Obj | None:
    """``obj`` with ``entry`` in ``spec.subscribers`` (replacing the one of its uid) and the
    subscriber's limits (``encoded`` by :func:`kawa.apis.limits.encode`) in its annotation
    ``limits.kawa.dev/<uid>`` (none: no annotation), or ``None`` when both are there
    already."""
    current = subscribers_of(obj)
    key = limits.channel_annotation(entry["uid"])
    if entry in current and _annotations(obj).get(key) == encoded:
        return None
    kept = [s for s in current if s.get("uid") != entry["uid"]]
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    spec["subscribers"] = [*kept, entry]
    _with_annotation(out, key, encoded)
    return out


def without_subscriber(obj: Obj, uid: str) -> Obj | None:
    """``obj`` without the ``spec.subscribers`` entry of ``uid`` (and its limits), or
    ``None`` when it has neither."""
    current = subscribers_of(obj)
    kept = [s for s in current if s.get("uid") != uid]
    key = limits.channel_annotation(uid)
    if len(kept) == len(current) and key not in _annotations(obj):
        return None
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    if kept:
        spec["subscribers"] = kept
    else:
        spec.pop("subscribers", None)
    _with_annotation(out, key, None)
    return out


def subscriber_status(obj: Obj, uid: str, generation: int) -> Mapping[str, Any] | None:
    """The channel's ``status.subscribers`` entry for ``uid`` at ``generation``."""
    status = obj.get("status")
    found = status.get("subscribers") if isinstance(status, Mapping) else None
    for entry in found if isinstance(found, list) else ():
        if (
            isinstance(entry, Mapping)
            and entry.get("uid") == uid
            and entry.get("observedGeneration") == generation
        ):
            return entry
    return None
