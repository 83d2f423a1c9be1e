"""The OIDC token a bound workload reads at ``/oidc/token`` (authentication-oidc): a Secret
``<name>-oidc-token`` owned by the SinkBinding (or ContainerSource) that binds the workload,
holding its ServiceAccount's token for the sink's audience, as Knative's SinkBinding keeps
it. Used by :mod:`kawa.sources.sinkbinding.reconciler` and
:mod:`kawa.sources.container.reconciler`.
"""

from __future__ import annotations

import base64
import contextlib

from kawa.apis import core, meta
from kawa.errors import ConflictError, KawaError, NotFoundError, TemporaryError
from kawa.store.base import Obj, ResourceKey, ResourceStore


def secret_key(namespace: str, name: str) -> ResourceKey:
    """Where the token of the binder ``namespace/name`` is kept."""
    return ResourceKey(core.SECRET.resource, namespace, meta.child_name(name, "-oidc-token"))


async def write(store: ResourceStore, key: ResourceKey, token: str, owner: Obj) -> None:
    """Create or renew the Secret ``key`` (owned by ``owner``) with ``token``;
    :class:`~kawa.errors.KawaError` when a Secret of that name is someone else's."""
    data = {"token": base64.b64encode(token.encode()).decode()}
    try:
        secret = await store.get(key)
    except NotFoundError:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": key.name,
                "namespace": key.namespace,
                "ownerReferences": [meta.controller_reference(owner)],
            },
            "data": data,
        }
        with contextlib.suppress(ConflictError):
            await store.create(key, secret)
        return
    if not meta.is_controlled_by(secret, owner):
        theirs = f"the {owner.get('kind')}'s"
        raise KawaError(f"the Secret {key.namespace}/{key.name} exists and is not {theirs}")
    if secret.get("data") != data:
        try:
            await store.update(key, dict(secret, data=data))
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err


async def delete(store: ResourceStore, key: ResourceKey, owner: Obj) -> None:
    """Delete the Secret ``key``, if there is one and it is ``owner``'s own."""
    try:
        secret = await store.get(key)
    except NotFoundError:
        return
    if meta.is_controlled_by(secret, owner):
        with contextlib.suppress(NotFoundError):
            await store.delete(key)
