"""A Pod's volumes as host directories, for the podman runtime's bind mounts.

``configMap`` and ``secret`` volumes are written as one file per key (or per ``items``
entry, at its ``path``) under ``<data-dir>/kubelet/volumes/<pod uid>/<volume>/`` when the
container starts (secrets decoded from base64); ``emptyDir`` is an empty directory there,
kept across the container's restarts and removed with the Pod. A missing ConfigMap or
Secret (not ``optional``) is a :class:`~.env.ContainerConfigError`, as Kubernetes' kubelet
keeps the container waiting. Used by :mod:`.worker`.
"""

from __future__ import annotations

import base64
import binascii
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kawa import files
from kawa.apis import core
from kawa.errors import NotFoundError
from kawa.serving.kubelet.env import ContainerConfigError
from kawa.serving.kubelet.podman import Mount
from kawa.store.base import ResourceKey, ResourceStore


def pod_dir(root: Path, uid: str) -> Path:
    return root / "volumes" / uid


def remove(root: Path, uid: str) -> None:
    shutil.rmtree(pod_dir(root, uid), ignore_errors=True)


async def _data(
    store: ResourceStore, namespace: str, kind: str, name: str, optional: bool
) -> dict[str, bytes]:
    resource = core.CONFIG_MAP.resource if kind == "configMap" else core.SECRET.resource
    try:
        obj = await store.get(ResourceKey(resource, namespace, name))
    except NotFoundError:
        if optional:
            return {}
        what = "configmap" if kind == "configMap" else "secret"
        raise ContainerConfigError(f'{what} "{name}" not found') from None
    out: dict[str, bytes] = {}
    for key, value in (obj.get("data") or {}).items():
        if kind == "secret":
            try:
                out[str(key)] = base64.b64decode(str(value))
            except (binascii.Error, ValueError) as err:
                raise ContainerConfigError(f"secret {namespace}/{name} key {key}: {err}") from err
        else:
            out[str(key)] = str(value).encode()
    if kind == "configMap":
        for key, value in (obj.get("binaryData") or {}).items():
            out[str(key)] = base64.b64decode(str(value))
    return out


def _files(data: dict[str, bytes], items: Any) -> dict[str, bytes]:
    if not isinstance(items, list) or not items:
        return data
    chosen: dict[str, bytes] = {}
    for item in items:
        if isinstance(item, Mapping) and str(item.get("key")) in data:
            chosen[str(item.get("path") or item["key"])] = data[str(item["key"])]
    return chosen


async def mounts(
    store: ResourceStore, root: Path, pod: Mapping[str, Any], container: Mapping[str, Any]
) -> tuple[Mount, ...]:
    """The bind mounts of ``container``'s ``volumeMounts``, their sources written now."""
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    base = pod_dir(root, str(meta.get("uid") or ""))
    volumes = {
        str(v.get("name")): v
        for v in (pod.get("spec") or {}).get("volumes") or ()
        if isinstance(v, Mapping)
    }
    found: list[Mount] = []
    for mount in container.get("volumeMounts") or ():
        if not isinstance(mount, Mapping):
            continue
        volume = volumes.get(str(mount.get("name")))
        target = str(mount.get("mountPath") or "")
        if volume is None or not target:
            continue
        directory = base / str(volume.get("name"))
        read_only = bool(mount.get("readOnly"))
        for kind, name_key in (("configMap", "name"), ("secret", "secretName")):
            source = volume.get(kind)
            if isinstance(source, Mapping):
                data = await _data(
                    store,
                    namespace,
                    kind,
                    str(source.get(name_key) or ""),
                    bool(source.get("optional")),
                )
                _write(directory, _files(data, source.get("items")))
                read_only = True
                break
        else:
            if not isinstance(volume.get("emptyDir"), Mapping):
                continue  # hostPath, persistentVolumeClaim...: not mounted
            directory.mkdir(parents=True, exist_ok=True)
        sub = str(mount.get("subPath") or "")
        found.append(Mount(str(directory / sub if sub else directory), target, read_only))
    return tuple(found)


def _write(directory: Path, content: dict[str, bytes]) -> None:
    """Replace ``directory``'s files with ``content`` (key -> bytes)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    for path, data in content.items():
        target = (directory / path).resolve()
        if not target.is_relative_to(directory.resolve()):
            continue  # an items path leaving the volume
        target.parent.mkdir(parents=True, exist_ok=True)
        files.write_private(target, data)
        target.chmod(0o644)
