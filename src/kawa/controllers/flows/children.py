"""What the Sequence and Parallel reconcilers share: making their channels and subscriptions,
keeping them as the spec says, and deleting the ones the spec no longer has.

Knative's flow controllers, in kawa's shape:

- a **channel** is made from the flow's ``spec.channelTemplate`` (kind, apiVersion, and its
  ``spec`` as the channel's spec), named as the flow's lifecycle says, in the flow's
  namespace, with a controller owner reference to the flow. An existing channel's spec is
  left as it is (Knative never updates a flow's channels: their spec belongs to the
  Subscriptions too); kawa's own channel annotations on the flow (lineage off, the
  dead-letter store off, a retention) are carried to each of its channels
  (:mod:`kawa.reconciler.carried_annotations`);
- a **subscription** (``messaging.knative.dev/v1``) gets the spec the flow wants, and the
  flow's own delivery limits (kawa's annotations ``kawa.dev/max-rate`` and
  ``kawa.dev/max-in-flight``, :mod:`kawa.apis.limits`: a step or branch has no metadata of
  its own, so each of the flow's subscribers gets them); an existing one is updated when its
  spec or those annotations differ, or deleted and made again when its channel differs
  (``spec.channel`` is immutable);
- what a flow controls but no longer wants (fewer steps or branches, another channel kind)
  is deleted.

A name taken by an object the flow does not control, or a template kawa cannot make, is a
:class:`ChildProblem` (the reconciler marks a condition ``False``; nothing is touched).
Every child is tracked, found or not, so its changes reconcile the flow at once. Children are
written through the store the way the API server would store them: defaulted and validated.
Used by :mod:`.sequence` and :mod:`.parallel`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from kawa.apis import limits, messaging, meta
from kawa.apis.kinds import ResourceKind
from kawa.apis.messaging.channel import ChannelTemplate
from kawa.apis.registry import SCHEME
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    KawaError,
    NotFoundError,
    TemporaryError,
    ValidationError,
)
from kawa.reconciler import carried_annotations
from kawa.reconciler.tracker import Track
from kawa.store.base import Obj, ResourceKey, ResourceStore

SUBSCRIPTION: Final = messaging.SUBSCRIPTION
SUBSCRIPTIONS: Final = SUBSCRIPTION.resource
CHANNEL_RESOURCES: Final = tuple(rk.resource for rk in SCHEME.kinds if "channel" in rk.categories)
"""Every channel kind kawa serves (category ``channel``): where a flow's channels may be."""

CHANNEL_TEMPLATE_FAILED: Final = "ChannelTemplateFailed"
NOT_OWNED: Final = "NotOwned"
SUBSCRIPTION_FAILED: Final = "SubscriptionFailed"


def owner_reference(flow: Mapping[str, Any]) -> dict[str, Any]:
    """The controller owner reference of a flow's child (Knative's ``NewControllerRef``: the
    garbage collector follows it, a foreground deletion of the flow waits for the child)."""
    return meta.controller_reference(flow)


def controlled_by(obj: Mapping[str, Any], flow: Mapping[str, Any]) -> bool:
    """Whether ``obj``'s controller owner reference names ``flow`` (by uid)."""
    uid = meta.metadata_of(flow).get("uid")
    refs = meta.metadata_of(obj).get("ownerReferences")
    return bool(uid) and any(
        isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("uid") == uid
        for ref in (refs if isinstance(refs, list) else ())
    )


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta.metadata_of(obj).get("deletionTimestamp"))


class ChildProblem(KawaError):
    """A child cannot be made or kept as the spec says; ``reason`` is a condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def channel_kind(template: ChannelTemplate) -> ResourceKind:
    """The channel kind a template names, or :class:`ChildProblem`."""
    try:
        kind = SCHEME.for_api_version_kind(template.api_version, template.kind)
    except ValidationError:
        kind = None
    if kind is None or "channel" not in kind.categories:
        raise ChildProblem(
            CHANNEL_TEMPLATE_FAILED,
            f"spec.channelTemplate: {template.kind} ({template.api_version}) is not a channel "
            "kind kawa serves (InMemoryChannel or Channel, messaging.knative.dev/v1)",
        )
    return kind


def channel_reference(template: ChannelTemplate, name: str, namespace: str) -> dict[str, str]:
    """A KReference to the flow's channel ``name`` (a subscription's reply to it)."""
    return {
        "apiVersion": template.api_version,
        "kind": template.kind,
        "name": name,
        "namespace": namespace,
    }


def destination(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``ref``/``uri`` of a stored Destination (a step's ``delivery`` left out)."""
    if not raw:
        return None
    out = {k: raw[k] for k in ("ref", "uri") if raw.get(k) is not None}
    return out or None


def _not_owned(flow: Obj, child: Obj) -> ChildProblem:
    kind = str(child.get("kind", "object"))
    name = meta.metadata_of(child).get("name")
    return ChildProblem(
        NOT_OWNED,
        f'{kind} "{name}" already exists and is not controlled by {flow.get("kind")} '
        f'"{meta.metadata_of(flow).get("name")}": delete or rename it',
    )


async def ensure_channel(
    store: ResourceStore,
    flow: Obj,
    template: ChannelTemplate,
    kind: ResourceKind,
    name: str,
    track: Track,
) -> Obj:
    """The flow's channel ``name``, made from ``template`` when missing."""
    namespace = meta.namespace_of(flow)
    key = ResourceKey(kind.resource, namespace, name)
    track(key)
    try:
        found = await store.get(key)
    except NotFoundError:
        pass
    else:
        if not controlled_by(found, flow):
            raise _not_owned(flow, found)
        carried = carried_annotations.carried_to(found, _annotations(flow))
        if carried is found or deleting(found):
            return found
        try:
            kind.validate(carried)
        except ValidationError as err:
            raise ChildProblem(CHANNEL_TEMPLATE_FAILED, f"metadata.annotations: {err}") from None
        try:
            return await store.update(key, carried)
        except (ConflictError, NotFoundError) as err:  # changed or gone meanwhile: again
            raise TemporaryError(str(err), delay=0.0) from err
    channel: Obj = {
        "apiVersion": template.api_version,
        "kind": template.kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [owner_reference(flow)],
        },
    }
    if template.spec:
        channel["spec"] = dict(template.spec)
    channel = carried_annotations.carried_to(channel, _annotations(flow))
    try:
        # checked as the API server would; stored as Knative's controller sends it (defaults,
        # such as a Channel's template from default-ch-webhook, are admission's)
        kind.validate(kind.default(channel))
    except ValidationError as err:
        raise ChildProblem(CHANNEL_TEMPLATE_FAILED, f"spec.channelTemplate: {err}") from None
    try:
        return await store.create(key, channel)
    except AlreadyExistsError as err:
        raise TemporaryError(str(err), delay=0.0) from err


async def ensure_channels(
    store: ResourceStore, flow: Obj, template: ChannelTemplate, names: Sequence[str], track: Track
) -> list[Obj]:
    """The flow's channels ``names`` (made when missing), after deleting the channels it
    controls but no longer wants: fewer of them, or of another kind (whose own children, such
    as a Channel's backing channel, may hold a wanted name until they are gone)."""
    kind = channel_kind(template)
    namespace = meta.namespace_of(flow)
    wanted = {ResourceKey(kind.resource, namespace, name) for name in names}
    await remove_unwanted(store, flow, CHANNEL_RESOURCES, wanted)
    return [await ensure_channel(store, flow, template, kind, name, track) for name in names]


async def ensure_subscription(
    store: ResourceStore, flow: Obj, name: str, spec: dict[str, Any], track: Track
) -> Obj:
    """The flow's subscription ``name`` with ``spec`` (made, updated, or made again when its
    channel changed)."""
    namespace = meta.namespace_of(flow)
    key = ResourceKey(SUBSCRIPTIONS, namespace, name)
    track(key)
    own_limits = limits.user_annotations(_annotations(flow))
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "ownerReferences": [owner_reference(flow)],
    }
    if own_limits:
        metadata["annotations"] = own_limits
    wanted = SUBSCRIPTION.default(
        {
            "apiVersion": SUBSCRIPTION.storage_api_version,
            "kind": SUBSCRIPTION.kind,
            "metadata": metadata,
            "spec": spec,
        }
    )
    try:
        SUBSCRIPTION.validate(wanted)
    except ValidationError as err:
        raise ChildProblem(SUBSCRIPTION_FAILED, str(err)) from None
    try:
        found = await store.get(key)
    except NotFoundError:
        return await _create(store, key, wanted)
    if not controlled_by(found, flow):
        raise _not_owned(flow, found)
    if deleting(found):
        return found  # made again once it is gone (it is tracked)
    stored_spec = found.get("spec") or {}
    if stored_spec.get("channel") != wanted["spec"].get("channel"):
        # spec.channel is immutable: delete, then make it again (once its finalizers let go)
        with contextlib.suppress(NotFoundError):
            await store.delete(key)
        try:
            return await store.create(key, wanted)
        except AlreadyExistsError:
            return await store.get(key)
    stored_annotations = _annotations(found)
    if stored_spec == wanted["spec"] and limits.user_annotations(stored_annotations) == own_limits:
        return found
    annotations = {k: v for k, v in stored_annotations.items() if k not in limits.USER_LIMITS}
    annotations.update(own_limits)
    found_metadata = {k: v for k, v in meta.metadata_of(found).items() if k != "annotations"}
    if annotations:
        found_metadata["annotations"] = annotations
    try:
        return await store.update(key, dict(found, metadata=found_metadata, spec=wanted["spec"]))
    except (ConflictError, NotFoundError) as err:
        raise TemporaryError(str(err), delay=0.0) from err


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    found = meta.metadata_of(obj).get("annotations")
    return dict(found) if isinstance(found, Mapping) else {}


async def _create(store: ResourceStore, key: ResourceKey, obj: Obj) -> Obj:
    try:
        return await store.create(key, obj)
    except AlreadyExistsError as err:
        raise TemporaryError(str(err), delay=0.0) from err


async def remove_unwanted(
    store: ResourceStore, flow: Obj, resources: Collection[str], wanted: Collection[ResourceKey]
) -> None:
    """Delete the objects of ``resources`` in the flow's namespace that the flow controls and
    that are not ``wanted`` (Knative's ``removeUnwantedChannels``/``Subscriptions``)."""
    namespace = meta.namespace_of(flow)
    for resource in resources:
        listed = await store.list(resource, namespace)
        for obj in listed.items:
            key = ResourceKey(resource, namespace, str(meta.metadata_of(obj).get("name", "")))
            if key in wanted or deleting(obj) or not controlled_by(obj, flow):
                continue
            try:
                await store.delete(key)
            except NotFoundError:
                continue


def subscription_spec(
    channel: Mapping[str, str],
    subscriber: Mapping[str, Any] | None,
    reply: Mapping[str, Any] | None,
    delivery: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A Subscription's spec: its channel (apiVersion, kind, name), subscriber, reply and
    delivery (the absent ones left out)."""
    spec: dict[str, Any] = {
        "channel": {k: channel[k] for k in ("apiVersion", "kind", "name")},
    }
    for field, value in (("subscriber", subscriber), ("reply", reply), ("delivery", delivery)):
        if value:
            spec[field] = dict(value)
    return spec
