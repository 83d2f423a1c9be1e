"""OIDC identities (authentication-oidc): the ServiceAccount a sender presents tokens of.

Knative gives every sender it runs (a Trigger's deliveries, a Subscription's, a source's) a
ServiceAccount of its own, named after it (:func:`kawa.apis.features.oidc_service_account_name`)
and owned by it, so that it goes when the sender goes. :func:`ensure_service_account` makes
it when missing and leaves one that exists alone; :func:`reconcile_identity` is a sender
reconciler's whole part (condition, ``status.auth``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from kawa.apis import core, duck, features, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.errors import ConflictError, KawaError, NotFoundError
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.status import Reconciling
from kawa.store.base import ResourceKey, ResourceStore

OIDC_LABEL = "eventing.knative.dev/oidc"


async def ensure_service_account(
    store: ResourceStore, namespace: str, name: str, owner: Mapping[str, Any]
) -> None:
    """The ServiceAccount ``namespace/name``, owned by ``owner``, made when missing;
    :class:`~kawa.errors.KawaError` when one of that name exists that ``owner`` does not
    control (as Knative refuses to adopt it)."""
    key = ResourceKey(core.SERVICE_ACCOUNT.resource, namespace, name)
    try:
        found = await store.get(key)
    except NotFoundError:
        pass
    else:
        if not meta.is_controlled_by(found, owner):  # a user's, or a deleted sender's
            owner_meta = meta.metadata_of(owner)
            raise KawaError(
                f"service account {name} not owned by {owner.get('kind')} {owner_meta.get('name')}"
            )
        return
    obj = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {OIDC_LABEL: "true"},
            "ownerReferences": [meta.controller_reference(owner)],
        },
    }
    with contextlib.suppress(ConflictError):  # made meanwhile (by another node's controller)
        await store.create(key, obj)


async def reconcile_identity(
    store: ResourceStore,
    flags: FeatureFlags,
    conditions: ConditionSet,
    current: Reconciling[Any],
    *,
    api_version: str,
    kind: str,
    clock: Clock,
) -> str | None:
    """A sender's ``OIDCIdentityCreated`` and ``status.auth``: with authentication-oidc on,
    its own ServiceAccount (made when missing, owned by it), whose name is returned; with the
    flag off, ``None`` (and the condition says so). Tracks the flags, so that turning them
    on or off reconciles the sender again."""
    current.track(FEATURES_KEY)
    if not (await flags.current()).oidc:
        duck.mark_oidc_identity(conditions, current.status, None, clock=clock)
        return None
    name = features.oidc_service_account_name(api_version, kind, current.key.name)
    try:
        await ensure_service_account(store, current.key.namespace, name, current.obj)
    except KawaError as err:
        duck.mark_oidc_identity_failed(conditions, current.status, str(err), clock=clock)
        return None
    duck.mark_oidc_identity(conditions, current.status, name, clock=clock)
    return name
