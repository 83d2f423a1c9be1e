"""The RequestReply reconciler: its signing key, its Broker, its reply Trigger and its address.

Knative's ``pkg/reconciler/requestreply``, in kawa's shape:

- **the key**: Secret ``knative-eventing/request-reply-keys`` holds an AES-256 key per
  RequestReply (entry ``<namespace>.<name>.key-0``), made here when missing; every kawa
  process's data plane reads it (:mod:`kawa.requestreply.live`), so any of them signs and
  verifies. A deleted RequestReply's entry is removed (with ``observe_deletion``);
- **BrokerReady**: ``spec.brokerRef`` names a Broker of the namespace that is Ready (False
  while it is missing or not Ready, saying which);
- **TriggersReady**: one Trigger, ``<name>0-1`` (Knative's name for its one replica),
  controlled by the RequestReply, labelled as Knative labels it, on the Broker, with the
  filter ``EXISTS <replyAttribute>`` (Knative's filter calls its own CESQL function to
  verify the id; kawa's data plane verifies instead) and kawa's reply endpoint as its
  subscriber; True once the Trigger is Ready;
- **Addressable**: ``<ingress base>/requestreplies/<namespace>/<name>`` (with
  authentication-oidc its audience, as every addressable's);
- **EventPoliciesReady** and ``status.policies`` from the EventPolicies of its namespace.

Built by :func:`requestreply_controller` for :mod:`kawa.leader`.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Final

from kawa.apis import core, meta
from kawa.apis.conditions import Clock, system_clock
from kawa.apis.eventing import (
    BROKER,
    BROKER_CONDITIONS,
    REQUESTREPLY,
    TRIGGER,
    TRIGGER_CONDITIONS,
)
from kawa.apis.eventing import requestreply as rr_api
from kawa.apis.meta import set_observed_generation
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    TemporaryError,
    ValidationError,
)
from kawa.reconciler.addressable import AddressableReconciler, addressable_controller
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller
from kawa.reconciler.status import Reconciling
from kawa.store.base import Obj, ResourceKey, ResourceStore

PREFIX: Final = "/requestreplies/"
"""Where kawa's data plane serves RequestReplies (:data:`kawa.requestreply.ROUTE`)."""

KEY_SIZE: Final = 32
"""AES-256 keys, as Knative makes."""
KEYS_KEY: Final = ResourceKey(core.SECRET.resource, rr_api.KEYS_NAMESPACE, rr_api.KEYS_SECRET)


def reply_trigger(rr: Obj, spec: rr_api.RequestReplySpec, subscriber: str) -> Obj:
    """The Trigger that routes ``rr``'s replies to kawa's reply endpoint ``subscriber``."""
    metadata = meta.metadata_of(rr)
    name, namespace = str(metadata["name"]), meta.namespace_of(rr)
    return TRIGGER.default(
        {
            "apiVersion": TRIGGER.storage_api_version,
            "kind": TRIGGER.kind,
            "metadata": {
                "name": rr_api.trigger_name(name),
                "namespace": namespace,
                "labels": {
                    rr_api.TRIGGER_NAME_LABEL: name,
                    rr_api.TRIGGER_NAMESPACE_LABEL: namespace,
                },
                "ownerReferences": [meta.controller_reference(rr)],
            },
            "spec": {
                "broker": spec.broker_ref.name,
                "filters": [{"cesql": f"EXISTS {spec.reply_attribute}"}],
                "subscriber": {"uri": subscriber},
            },
        }
    )


class RequestReplyReconciler(AddressableReconciler[rr_api.RequestReply]):
    conditions = rr_api.REQUESTREPLY_CONDITIONS
    invalid_condition = rr_api.TRIGGERS_READY
    prefix = PREFIX
    api_version = rr_api.API_VERSION
    kind = rr_api.KIND

    def parse(self, obj: Obj) -> rr_api.RequestReply:
        return rr_api.parse_requestreply(obj)

    async def reconcile_kind(self, current: Reconciling[rr_api.RequestReply]) -> None:
        rr, status = current.spec, current.status
        namespace, name = current.key.namespace, current.key.name
        current.track(KEYS_KEY)
        await self._ensure_key(namespace, name)
        await self._broker(current)
        await self._trigger(current, f"{self.url_of(namespace, name)}/reply")
        flags = await self.publish_address(current)
        await self.mark_policies(current, flags)
        set_observed_generation(status, rr.generation)

    async def _ensure_key(self, namespace: str, name: str) -> None:
        """A key for the RequestReply in the keys Secret (made with the Secret if missing)."""
        entry = rr_api.key_name(namespace, name)
        value = base64.b64encode(os.urandom(KEY_SIZE)).decode()
        try:
            secret = await self.store.get(KEYS_KEY)
        except NotFoundError:
            created: Obj = core.SECRET.default(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": rr_api.KEYS_SECRET, "namespace": rr_api.KEYS_NAMESPACE},
                    "type": "Opaque",
                    "data": {entry: value},
                }
            )
            try:
                await self.store.create(KEYS_KEY, created)
            except AlreadyExistsError as err:
                raise TemporaryError(str(err), delay=0.0) from err
            return
        data = secret.get("data")
        data = dict(data) if isinstance(data, dict) else {}
        if rr_api.keys_of(namespace, name, {k: b"" for k in data}):
            return
        data[entry] = value
        try:
            await self.store.update(KEYS_KEY, dict(secret, data=data))
        except (ConflictError, NotFoundError) as err:
            raise TemporaryError(str(err), delay=0.0) from err

    async def _broker(self, current: Reconciling[rr_api.RequestReply]) -> None:
        status, clock = current.status, self.clock
        broker = current.spec.spec.broker_ref.name
        key = ResourceKey(BROKER.resource, current.key.namespace, broker)
        current.track(key)
        try:
            found = await self.store.get(key)
        except NotFoundError:
            self.conditions.mark_false(
                status,
                rr_api.BROKER_READY,
                "BrokerDoesNotExist",
                f'Broker "{broker}" does not exist',
                clock=clock,
            )
            return
        if BROKER_CONDITIONS.is_ready(found.get("status") or {}):
            self.conditions.mark_true(status, rr_api.BROKER_READY, clock=clock)
        else:
            self.conditions.mark_false(
                status,
                rr_api.BROKER_READY,
                "BrokerNotReady",
                f'Broker "{broker}" is not ready',
                clock=clock,
            )

    async def _trigger(self, current: Reconciling[rr_api.RequestReply], subscriber: str) -> None:
        status, clock = current.status, self.clock
        wanted = reply_trigger(current.obj, current.spec.spec, subscriber)
        key = ResourceKey(TRIGGER.resource, current.key.namespace, str(wanted["metadata"]["name"]))
        current.track(key)
        try:
            TRIGGER.validate(wanted)
        except ValidationError as err:  # a spec admission let through: say so
            self._triggers_not_ready(status, "TriggerReconcileError", str(err), clock)
            return
        try:
            found = await self.store.get(key)
        except NotFoundError:
            try:
                await self.store.create(key, wanted)
            except AlreadyExistsError as err:
                raise TemporaryError(str(err), delay=0.0) from err
            self._triggers_not_ready(
                status, "TriggersNotReady", "not all triggers are ready yet", clock
            )
            return
        if not meta.is_controlled_by(found, current.obj):
            self._triggers_not_ready(
                status,
                "TriggerReconcileError",
                f'Trigger "{key.name}" already exists and is not controlled by RequestReply '
                f'"{current.key.name}": delete or rename it',
                clock,
            )
            return
        stored_spec: Any = found.get("spec") or {}
        if stored_spec.get("broker") != wanted["spec"]["broker"]:
            await self.store.delete(key)  # spec.broker is immutable: made again once gone
            self._triggers_not_ready(
                status, "TriggersNotReady", "the Trigger is being replaced", clock
            )
            return
        if stored_spec != wanted["spec"]:
            try:
                await self.store.update(key, dict(found, spec=wanted["spec"]))
            except (ConflictError, NotFoundError) as err:
                raise TemporaryError(str(err), delay=0.0) from err
            self._triggers_not_ready(
                status, "TriggersNotReady", "not all triggers are ready yet", clock
            )
            return
        if TRIGGER_CONDITIONS.is_ready(found.get("status") or {}):
            self.conditions.mark_true(status, rr_api.TRIGGERS_READY, clock=clock)
        else:
            self._triggers_not_ready(
                status, "TriggersNotReady", "not all triggers are ready yet", clock
            )

    def _triggers_not_ready(
        self, status: dict[str, Any], reason: str, message: str, clock: Clock
    ) -> None:
        self.conditions.mark_unknown(status, rr_api.TRIGGERS_READY, reason, message, clock=clock)

    async def observe_deletion(self, key: ResourceKey) -> None:
        """The RequestReply is gone: its keys go too (its Trigger is the garbage collector's)."""
        try:
            secret = await self.store.get(KEYS_KEY)
        except NotFoundError:
            return
        data = secret.get("data")
        if not isinstance(data, dict):
            return
        prefix = f"{key.namespace}.{key.name}.key-"
        kept = {k: v for k, v in data.items() if not k.startswith(prefix)}
        if kept == data:
            return
        try:
            await self.store.update(KEYS_KEY, dict(secret, data=kept))
        except (ConflictError, NotFoundError) as err:
            raise TemporaryError(str(err), delay=0.0) from err


def requestreply_controller(
    store: ResourceStore,
    *,
    ingress_base_url: str,
    clock: Clock = system_clock,
    https_base_url: str = "",
    ca_certs: str = "",
) -> Controller:
    """The RequestReply controller, ready to ``run()``: reconciles a RequestReply when it,
    its Broker, its Trigger, the keys Secret or an EventPolicy of its namespace changes."""
    recorder = EventRecorder(store, "requestreply-controller", clock=clock)
    reconciler = RequestReplyReconciler(
        store, ingress_base_url, clock, recorder, https_base_url=https_base_url, ca_certs=ca_certs
    )
    return addressable_controller("requestreply", reconciler, REQUESTREPLY.resource)
