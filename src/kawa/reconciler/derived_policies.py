"""EventPolicies a controller derives for the channels behind an addressable, so that who may
send to a Channel, a Sequence or a Parallel is checked where its events actually arrive.

A Channel's address is its backing channel's, a Sequence's its first channel's, a Parallel's
its ingress channel's: the data plane checks senders against the EventPolicies of *those*
channels (:mod:`kawa.dispatch.eventpolicies`). As Knative's controllers do, with
``authentication-oidc`` on:

- every EventPolicy that applies to the parent (:func:`applying`) gets a derived policy whose
  ``spec.to`` is the channel behind the parent's address and whose ``spec.from`` is the
  parent policy's (:func:`for_parent_policy`). Knative copies only ``from``; kawa copies
  ``filters`` too, so the derived policy allows exactly what the parent's does;
- a flow's inner channels, which only the flow's own Subscriptions post to (their replies),
  get a policy allowing just that Subscription (:func:`from_subscription`), so that a flow
  keeps working whatever the default authorization mode.

Derived policies are controlled by the parent (the garbage collector deletes them with it),
carry labels naming it, and :func:`ensure` keeps exactly the wanted ones: it creates, updates
and deletes, and deletes them all when ``authentication-oidc`` is off. Used by the Channel,
Sequence and Parallel reconcilers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kawa.apis import meta
from kawa.apis.eventing import EVENTPOLICY, eventpolicy
from kawa.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    TemporaryError,
)
from kawa.reconciler.eventpolicies import applying
from kawa.store.base import Obj, ResourceKey, ResourceStore

__all__ = ["applying", "ensure", "for_parent_policy", "from_subscription", "policy", "reference"]

SUBSCRIPTION_API_VERSION = "messaging.knative.dev/v1"


def reference(api_version: str, kind: str, name: str) -> dict[str, str]:
    """An EventPolicy ``spec.to`` (or ``from``) reference."""
    return {"apiVersion": api_version, "kind": kind, "name": name}


def from_subscription(name: str, namespace: str) -> dict[str, Any]:
    """A ``spec.from`` entry naming Subscription ``namespace/name`` (its OIDC identity)."""
    return {
        "ref": {**reference(SUBSCRIPTION_API_VERSION, "Subscription", name), "namespace": namespace}
    }


def policy(
    parent: Obj,
    name: str,
    to: Mapping[str, str],
    senders: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
    *,
    filters: Sequence[Mapping[str, Any]] | None = None,
) -> Obj:
    """The EventPolicy ``name`` allowing ``senders`` to post to ``to``, controlled by
    ``parent`` only (Knative also names the policy it derives from as an owner, which keeps it
    after the parent is deleted for as long as that policy lives: here the parent's
    reconciler deletes it when that policy goes, and the garbage collector with the
    parent)."""
    owners = [meta.controller_reference(parent)]
    spec: dict[str, Any] = {"to": [{"ref": dict(to)}], "from": copy.deepcopy(list(senders))}
    if filters:
        spec["filters"] = copy.deepcopy(list(filters))
    return {
        "apiVersion": eventpolicy.API_VERSION,
        "kind": eventpolicy.KIND,
        "metadata": {
            "name": name,
            "namespace": meta.namespace_of(parent),
            "labels": dict(labels),
            "ownerReferences": owners,
        },
        "spec": spec,
    }


def for_parent_policy(
    parent: Obj, name: str, to: Mapping[str, str], source: Obj, labels: Mapping[str, str]
) -> Obj:
    """The policy for ``to`` derived from ``source`` (an EventPolicy applying to
    ``parent``): its senders and its filters."""
    spec = source.get("spec") or {}
    return policy(
        parent,
        name,
        to,
        list(spec.get("from") or ()),
        labels,
        filters=list(spec.get("filters") or ()),
    )


async def ensure(
    store: ResourceStore, parent: Obj, labels: Mapping[str, str], wanted: Sequence[Obj]
) -> None:
    """Make the EventPolicies ``parent`` controls and labels with ``labels`` exactly
    ``wanted``: create the missing, update the changed, delete the others. A name taken by a
    policy ``parent`` does not control is left alone (it is the user's)."""
    namespace = meta.namespace_of(parent)
    listed = await store.list(EVENTPOLICY.resource, namespace)
    existing: dict[str, Obj] = {}
    for obj in listed.items:
        metadata = meta.metadata_of(obj)
        own_labels = metadata.get("labels") or {}
        if meta.is_controlled_by(obj, parent) and all(
            own_labels.get(k) == v for k, v in labels.items()
        ):
            existing[str(metadata.get("name", ""))] = obj
    for obj in wanted:
        name = str(obj["metadata"]["name"])
        key = ResourceKey(EVENTPOLICY.resource, namespace, name)
        found = existing.pop(name, None)
        stored = EVENTPOLICY.default(copy.deepcopy(obj))
        if found is None:
            try:
                await store.create(key, stored)
            except AlreadyExistsError:
                continue  # not ours (we list ours): the user's policy of that name stays
            continue
        same = found.get("spec") == stored.get("spec") and (
            meta.metadata_of(found).get("ownerReferences") == obj["metadata"]["ownerReferences"]
        )
        if same:
            continue
        metadata = dict(meta.metadata_of(found))
        metadata["ownerReferences"] = obj["metadata"]["ownerReferences"]
        try:
            await store.update(key, dict(found, metadata=metadata, spec=stored["spec"]))
        except (ConflictError, NotFoundError) as err:
            raise TemporaryError(str(err), delay=0.0) from err
    for name in existing:
        try:
            await store.delete(ResourceKey(EVENTPOLICY.resource, namespace, name))
        except NotFoundError:
            continue
