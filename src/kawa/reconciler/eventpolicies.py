"""A receiver's EventPolicies: ``status.policies`` and ``EventPoliciesReady`` (Knative's
``UpdateStatusWithEventPolicies``).

A Broker, an InMemoryChannel (any addressable that checks its senders) lists the
EventPolicies of its namespace, keeps those that apply to it
(:func:`kawa.apis.eventing.eventpolicy.applies_to`) and records them with their readiness
(:func:`kawa.apis.eventing.eventpolicy.mark_event_policies`). A change of a policy must
reconcile the receivers again: their controllers watch EventPolicies with
:func:`receivers_of_policies`. Called by the Broker and InMemoryChannel reconcilers.

For the data plane, :class:`LiveEventPolicies` keeps every EventPolicy in memory as
authorization reads it (:class:`kawa.dispatch.eventpolicies.AppliedPolicy`: subjects and
compiled filters), so that a request reads no store: the ingress hook takes a receiver's
``status.policies`` and asks :meth:`LiveEventPolicies.applied` for them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kawa.apis import features
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.eventing import EVENTPOLICY, eventpolicy
from kawa.apis.model.objects import KubeObject
from kawa.cloudevents import CloudEvent
from kawa.dispatch.eventpolicies import AppliedPolicy
from kawa.errors import ValidationError
from kawa.reconciler.informer import inform
from kawa.reconciler.loop import Watch, in_namespace
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)


async def mark_event_policies(
    store: ResourceStore,
    conditions: ConditionSet,
    status: dict[str, Any],
    receiver: KubeObject,
    flags: features.Features,
    *,
    api_version: str,
    clock: Clock,
) -> None:
    """Set ``receiver``'s ``status.policies`` and ``EventPoliciesReady`` from the
    EventPolicies of its namespace that apply to it (none are read with authentication-oidc
    off). An EventPolicy that does not parse applies to nothing (its own status says why)."""
    found: list[tuple[str, bool]] = []
    if flags.oidc:
        for obj in await applying(store, receiver, api_version):
            found.append((str(obj["metadata"]["name"]), eventpolicy.is_ready(obj)))
    eventpolicy.mark_event_policies(conditions, status, found, flags, clock=clock)


async def applying(store: ResourceStore, receiver: KubeObject, api_version: str) -> list[Obj]:
    """The EventPolicies of ``receiver``'s namespace that apply to it (``receiver`` of
    ``api_version``), sorted by name. One that does not parse applies to nothing (its own
    status says why)."""
    listed = await store.list(EVENTPOLICY.resource, receiver.namespace)
    found: list[Obj] = []
    for obj in listed.items:
        try:
            policy = eventpolicy.parse_eventpolicy(obj)
        except ValidationError:
            continue
        if eventpolicy.applies_to(
            policy, api_version, receiver.kind, receiver.name, receiver.labels
        ):
            found.append(obj)
    return sorted(found, key=lambda o: str(o["metadata"].get("name", "")))


def receivers_of_policies(store: ResourceStore, resource: str) -> Watch:
    """Watch EventPolicies: a change of one reconciles every object of ``resource`` (a
    receiver kind) in its namespace, whether the policy applies to it now or did before."""
    return Watch(EVENTPOLICY.resource, in_namespace(store, resource))


def _no_event(event: CloudEvent, /) -> bool:
    return False


class LiveEventPolicies:
    """Every EventPolicy, parsed and its filters compiled once per change, kept in memory by
    :meth:`run` (an informer on all namespaces) until cancelled."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._policies: dict[tuple[str, str], AppliedPolicy] = {}
        self.listed = False
        """Whether every EventPolicy was listed once."""

    async def run(self) -> None:
        await inform(self._store, EVENTPOLICY.resource, self._seen, on_listed=self._listed)

    def applied(self, namespace: str, names: Iterable[str]) -> list[AppliedPolicy]:
        """The policies ``names`` of ``namespace`` (a receiver's ``status.policies``). One not
        known here (deleted since the receiver was reconciled, not seen yet, or invalid)
        allows no one: a receiver that names a policy is never left to the default mode."""
        return [
            self._policies.get((namespace, name)) or AppliedPolicy(name, (), _no_event)
            for name in names
        ]

    @staticmethod
    def names(receiver_status: Mapping[str, Any]) -> list[str]:
        """The names of a receiver's ``status.policies``."""
        listed = receiver_status.get("policies")
        if not isinstance(listed, list):
            return []
        return [
            str(p["name"])
            for p in listed
            if isinstance(p, Mapping) and isinstance(p.get("name"), str)
        ]

    async def _seen(self, event: WatchEvent) -> None:
        obj = event.object
        metadata = obj.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        if event.type == "DELETED":
            self._policies.pop(key, None)
            return
        try:
            self._policies[key] = AppliedPolicy.from_object(obj)
        except ValidationError as err:
            log.warning("EventPolicy %s/%s is invalid: %s", *key, err)
            self._policies.pop(key, None)

    async def _listed(self, items: list[Obj]) -> None:
        present = {
            (str(o["metadata"].get("namespace") or ""), str(o["metadata"]["name"])) for o in items
        }
        for key in set(self._policies) - present:
            del self._policies[key]
        self.listed = True
