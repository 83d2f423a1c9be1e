"""The Channel reconciler: a Channel is its backing channel, made from ``spec.channelTemplate``.

As Knative's channel reconciler: the backing channel has the Channel's name and namespace,
the kind and ``spec`` of the template plus the Channel's ``spec.delivery``, and a controller
owner reference to the Channel (kawa's garbage collector deletes it with the Channel). A
change of the Channel's ``spec.delivery`` is carried to the backing channel's spec; its
``spec.subscribers`` belong to the Subscriptions and are left alone. kawa's own channel
annotations (lineage off, the dead-letter store off, a retention) are carried to the backing
channel as :mod:`kawa.reconciler.carried_annotations` says. The Channel's status
records the backing channel (``status.channel``) and copies its ``address``,
``subscribers`` and ``deadLetterSinkUri``; ``BackingChannelReady`` follows the backing
channel's ``Ready`` and ``DeadLetterSinkResolved`` its condition of that name. A template
naming a kind that is not a channel, or a same-named object the Channel does not control,
marks ``BackingChannelReady`` False (reason ``ChannelFailure``). With authentication-oidc on,
each EventPolicy that applies to the Channel gets a copy for the backing channel (where the
Channel's events arrive) and the Channel lists its own in ``status.policies``
(``EventPoliciesReady``). Built by
:func:`kawa.controllers.messaging.messaging_controllers`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import duck, messaging
from kawa.apis.conditions import Clock, get_condition
from kawa.apis.messaging import channel as channel_api
from kawa.apis.meta import child_name, metadata_of, set_observed_generation
from kawa.apis.registry import SCHEME
from kawa.controllers.messaging.channels import subscribable
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    TemporaryError,
    ValidationError,
)
from kawa.reconciler import carried_annotations, derived_policies
from kawa.reconciler.eventpolicies import mark_event_policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.status import Reconciling, StatusReconciler
from kawa.store.base import Obj, ResourceKey, ResourceStore

CHANNEL_FAILURE: Final = "ChannelFailure"
BACKING_LABEL_PREFIX: Final = "messaging.knative.dev/"
"""Of the labels on the EventPolicies derived for a backing channel (Knative's)."""


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The controller owner reference of a backing channel to its Channel."""
    metadata = metadata_of(owner)
    return {
        "apiVersion": channel_api.API_VERSION,
        "kind": channel_api.KIND,
        "name": str(metadata.get("name", "")),
        "uid": str(metadata.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def backing_channel(owner: Obj, channel: channel_api.Channel) -> Obj:
    """The backing channel ``owner`` (the stored Channel) wants."""
    template = channel.spec.channel_template
    spec: dict[str, Any] = copy.deepcopy(dict(template.spec or {}))
    delivery = (owner.get("spec") or {}).get("delivery")
    if delivery:
        spec["delivery"] = copy.deepcopy(delivery)
    backing: Obj = {
        "apiVersion": template.api_version,
        "kind": template.kind,
        "metadata": {
            "name": channel.name,
            "namespace": channel.namespace,
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": spec,
    }
    return carried_annotations.carried_to(backing, channel.annotations)


def _controlled_by(obj: Obj, owner: Obj) -> bool:
    uid = metadata_of(owner).get("uid")
    refs = metadata_of(obj).get("ownerReferences")
    return any(
        isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("uid") == uid
        for ref in (refs if isinstance(refs, list) else ())
    )


class ChannelReconciler(StatusReconciler[channel_api.Channel]):
    conditions = channel_api.CHANNEL_CONDITIONS
    invalid_condition = channel_api.BACKING_CHANNEL_READY

    def __init__(
        self, store: ResourceStore, clock: Clock, recorder: EventRecorder | None = None
    ) -> None:
        super().__init__(store, clock, recorder)
        self._features = FeatureFlags(store)

    def parse(self, obj: Obj) -> channel_api.Channel:
        return channel_api.parse_channel(obj)

    def _failed(self, status: dict[str, Any], message: str) -> None:
        self.conditions.mark_false(
            status, channel_api.BACKING_CHANNEL_READY, CHANNEL_FAILURE, message, clock=self.clock
        )

    async def reconcile_kind(self, current: Reconciling[channel_api.Channel]) -> None:
        channel, status = current.spec, current.status
        set_observed_generation(status, channel.generation)
        template = channel.spec.channel_template
        try:
            rk = SCHEME.for_api_version_kind(template.api_version, template.kind)
        except ValidationError:
            rk = None
        if rk is None or not subscribable(rk) or rk.kind == messaging.CHANNEL.kind:
            self._failed(
                status,
                f"spec.channelTemplate names {template.kind} ({template.api_version}), which "
                "is not a channel implementation kawa serves (InMemoryChannel is)",
            )
            return
        key = ResourceKey(rk.resource, channel.namespace, channel.name)
        current.track(key)
        wanted = backing_channel(current.obj, channel)
        try:
            backing = await self.store.get(key)
        except NotFoundError:
            try:
                backing = await self.store.create(key, wanted)
            except AlreadyExistsError as err:
                raise TemporaryError(str(err), delay=0.0) from err
        if not _controlled_by(backing, current.obj):
            self._failed(
                status,
                f'{rk.kind} "{channel.name}" exists and is not controlled by this Channel '
                "(delete it, or give the Channel another name)",
            )
            return
        backing = await self._sync(key, backing, wanted, channel.annotations)
        self._propagate(status, backing, rk.kind, template.api_version)
        await self._policies(current, template.api_version, rk.kind)

    async def _policies(
        self, current: Reconciling[channel_api.Channel], api_version: str, kind: str
    ) -> None:
        """Carry the EventPolicies that apply to the Channel to its backing channel, where
        its events arrive (authentication-oidc; :mod:`kawa.reconciler.derived_policies`), and
        mark the Channel's ``EventPoliciesReady``."""
        channel = current.spec
        current.track(FEATURES_KEY)
        flags = await self._features.current()
        labels = {
            f"{BACKING_LABEL_PREFIX}channel-group": api_version.partition("/")[0],
            f"{BACKING_LABEL_PREFIX}channel-version": api_version.partition("/")[2],
            f"{BACKING_LABEL_PREFIX}channel-kind": kind,
            f"{BACKING_LABEL_PREFIX}channel-name": channel.name,
        }
        wanted: dict[str, Obj] = {}
        if flags.oidc:
            to = derived_policies.reference(api_version, kind, channel.name)
            for source in await derived_policies.applying(
                self.store, channel, channel_api.API_VERSION
            ):
                name = child_name(f"{source['metadata']['name']}-", channel.name)
                wanted.setdefault(
                    name,
                    derived_policies.for_parent_policy(current.obj, name, to, source, labels),
                )
        await derived_policies.ensure(self.store, current.obj, labels, list(wanted.values()))
        await mark_event_policies(
            self.store,
            self.conditions,
            current.status,
            channel,
            flags,
            api_version=channel_api.API_VERSION,
            clock=self.clock,
        )

    async def _sync(
        self, key: ResourceKey, backing: Obj, wanted: Obj, annotations: Mapping[str, str]
    ) -> Obj:
        """Carry the Channel's ``spec.delivery`` and its ``annotations`` of kawa's
        (:mod:`kawa.reconciler.carried_annotations`) to the backing channel."""
        given = backing.get("spec")
        spec: dict[str, Any] = given if isinstance(given, dict) else {}
        new = carried_annotations.carried_to(backing, annotations)
        if spec.get("delivery") == wanted["spec"].get("delivery") and new is backing:
            return backing
        new_spec = {k: v for k, v in spec.items() if k != "delivery"}
        if "delivery" in wanted["spec"]:
            new_spec["delivery"] = wanted["spec"]["delivery"]
        try:
            return await self.store.update(key, dict(new, spec=new_spec))
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err

    def _propagate(self, status: dict[str, Any], backing: Obj, kind: str, api: str) -> None:
        """Copy the backing channel's state into the Channel's status."""
        clock = self.clock
        backing_status = backing.get("status")
        if not isinstance(backing_status, dict):
            backing_status = {}
        ready = get_condition(backing_status, "Ready")
        url, audience, addresses = duck.published_address(backing_status)
        metadata = metadata_of(backing)
        ref = duck.KReference(
            api_version=api,
            kind=kind,
            name=str(metadata.get("name", "")),
            namespace=str(metadata.get("namespace", "")),
        )
        channel_api.mark_backing_channel(
            status,
            ref,
            None if ready is None or ready.status == "Unknown" else ready.is_true,
            url,
            clock=clock,
            audience=audience,
            addresses=addresses,
        )
        for field in ("subscribers", "deadLetterSinkUri"):
            if field in backing_status:
                status[field] = copy.deepcopy(backing_status[field])
            else:
                status.pop(field, None)
        self.conditions.propagate(
            status,
            duck.DEAD_LETTER_SINK_RESOLVED,
            get_condition(backing_status, duck.DEAD_LETTER_SINK_RESOLVED),
            reason_if_missing="BackingChannelNotReady",
            message_if_missing=f'The backing {kind} "{ref.name}" has not resolved its '
            "dead-letter sink yet.",
            clock=clock,
        )
