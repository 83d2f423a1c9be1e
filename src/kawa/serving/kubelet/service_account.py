"""A Pod's service account credentials: what an in-cluster client reads to call kawa's API.

Kubernetes projects a ``kube-api-access`` volume into every container at
``/var/run/secrets/kubernetes.io/serviceaccount`` (``token``, ``ca.crt``, ``namespace``) and
sets ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``; client libraries' in-cluster
configuration uses exactly these. kawa writes the three files under the Pod's volume
directory (:mod:`.volumes`) when a container starts: ``token`` is kawa's API token (kawa has
one identity, no per-account tokens or RBAC), ``ca.crt`` the API's certificate. The podman
runtime mounts them at the standard path; a host process finds them in the directory named by
``KAWA_SERVICE_ACCOUNT_DIR``. Nothing is projected when the Pod (or its service account) says
``automountServiceAccountToken: false``, or when kawa's API address is not known (a kubelet
without an API server, as in unit tests). Used by the runtimes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from kawa import files
from kawa.apis import core
from kawa.errors import NotFoundError
from kawa.serving.kubelet import security, volumes
from kawa.store.base import ResourceKey, ResourceStore

if TYPE_CHECKING:
    from kawa.serving.kubelet.node import Node

SERVICE_NAME: Final = "kubernetes.default.svc"
"""The API's name for containers (the API's certificate names it; :mod:`.api_relay`)."""
MOUNT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
DIR_ENV: Final = "KAWA_SERVICE_ACCOUNT_DIR"
VOLUME: Final = "kube-api-access"


async def wanted(store: ResourceStore, pod: Mapping[str, Any]) -> bool:
    """Whether the Pod gets its service account token: its ``automountServiceAccountToken``,
    else its ServiceAccount's, else yes."""
    spec = pod.get("spec") or {}
    if isinstance(spec.get("automountServiceAccountToken"), bool):
        return bool(spec["automountServiceAccountToken"])
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    name = str(spec.get("serviceAccountName") or "default")
    try:
        account = await store.get(ResourceKey(core.SERVICE_ACCOUNT.resource, namespace, name))
    except NotFoundError:
        return True
    return account.get("automountServiceAccountToken") is not False


async def write(node: Node, pod: Mapping[str, Any]) -> Path | None:
    """Write the Pod's ``token``, ``ca.crt`` and ``namespace``; their directory (None when
    nothing is projected)."""
    access = node.api
    if access is None or not await wanted(node.store, pod):
        return None
    meta = pod.get("metadata") or {}
    directory = volumes.pod_dir(node.root, str(meta.get("uid") or "")) / VOLUME
    files.make_dir(directory)  # 0700 with its parents: the token is kawa's own
    content = {
        "token": access.token.encode(),
        "ca.crt": access.ca_pem,
        "namespace": str(meta.get("namespace") or "default").encode(),
    }
    owners = _owners(pod)
    for name, data in content.items():
        target = directory / name
        files.write_private(target, data)
        for uid, gid in owners:
            os.chown(target, uid, gid)
    for uid, gid in owners:
        os.chown(directory, uid, gid)
    return directory


def _owners(pod: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Who must read the token besides kawa: the user a container runs as (``runAsUser``),
    when kawa may give files away (it runs as root); the files stay 0600 to that user, as a
    projected volume with an ``fsGroup`` (one user: the first container's that asks)."""
    if os.geteuid() != 0:
        return []
    for container in (pod.get("spec") or {}).get("containers") or ():
        user = security.process_user(security.effective(pod, container))
        if user is not None and user[0] != 0:
            return [user]
    return []


def environment(
    node: Node, directory: Path | None, *, address: tuple[str, int] | None = None
) -> dict[str, str]:
    """The variables of the API's address (``address``: as the container reaches it)."""
    access = node.api
    if access is None or directory is None:
        return {}
    host, port = (address[0], str(address[1])) if address else (access.host, str(access.port))
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port,
        "KUBERNETES_SERVICE_PORT_HTTPS": port,
        "KUBERNETES_PORT": f"tcp://{host}:{port}",
        DIR_ENV: str(directory),
    }
