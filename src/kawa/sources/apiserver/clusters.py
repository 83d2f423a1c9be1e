"""Which API server an ApiServerSource watches: kawa's own, or a remote one.

By default a source watches kawa itself (:class:`~kawa.sources.apiserver.local.
StoreCluster`). With the annotation ``sources.kawa.dev/kubeconfig-secret: <name>`` it watches
the API server of the kubeconfig in that Secret (key ``kubeconfig``, in the source's
namespace): a :class:`~kawa.sources.apiserver.remote.RemoteCluster`, kept (with its HTTP
session) for as long as the kubeconfig stays the same. Used by the reconciler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from kawa.apis import core
from kawa.errors import KawaError, NotFoundError, ValidationError
from kawa.sources.apiserver import remote
from kawa.sources.apiserver.local import StoreCluster
from kawa.sources.apiserver.watch import Cluster
from kawa.store.base import ResourceKey, ResourceStore

SECRETS = core.SECRET.resource


class ClusterUnavailable(KawaError):
    """The source's cluster cannot be used (``reason`` for a condition)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Clusters:
    """Hands out the cluster of each source; owns the HTTP session of the remote ones."""

    def __init__(self, store: ResourceStore, local: StoreCluster) -> None:
        self._store = store
        self.local = local
        self._session: aiohttp.ClientSession | None = None
        self._remote: dict[tuple[str, str], remote.RemoteCluster] = {}

    async def for_source(self, obj: Mapping[str, Any]) -> Cluster:
        meta = obj.get("metadata") or {}
        secret_name = (meta.get("annotations") or {}).get(remote.KUBECONFIG_ANNOTATION)
        if not secret_name:
            return self.local
        namespace = str(meta.get("namespace") or "")
        try:
            secret = await self._store.get(ResourceKey(SECRETS, namespace, str(secret_name)))
        except NotFoundError:
            raise ClusterUnavailable(
                "KubeconfigNotFound",
                f'Secret "{secret_name}" (annotation {remote.KUBECONFIG_ANNOTATION}) does not '
                f'exist in namespace "{namespace}"',
            ) from None
        try:
            config = remote.kubeconfig_from_secret(secret)
        except ValidationError as err:
            raise ClusterUnavailable("InvalidKubeconfig", str(err)) from None
        key = (namespace, str(secret_name))
        found = self._remote.get(key)
        if found is not None and found.config == config:
            return found
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        cluster = remote.RemoteCluster(config, self._session)
        self._remote[key] = cluster
        return cluster

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
