"""A Pod's volumes as host directories: the podman runtime's bind mounts, and what a host
process of the process runtime reads instead of the mount path (:func:`host_paths`).

``configMap`` and ``secret`` volumes are written as one file per key (or per ``items``
entry, at its ``path``) under ``<data-dir>/kubelet/volumes/<pod uid>/<volume>/`` when the
container starts (secrets decoded from base64), and kept up to date while it runs
(:func:`refresh`, files replaced atomically in place); ``emptyDir`` is an empty directory there,
kept across the container's restarts and removed with the Pod. A missing ConfigMap or
Secret (not ``optional``) is a :class:`~.env.ContainerConfigError`, as Kubernetes' kubelet
keeps the container waiting. Used by :mod:`.worker`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kawa import files
from kawa.apis import core
from kawa.errors import NotFoundError
from kawa.serving.kubelet.env import ContainerConfigError
from kawa.serving.kubelet.podman import Mount
from kawa.store.base import ResourceKey, ResourceStore

_BEFORE_PATH = r"(?<![^\s=:,'\"])"
"""A mount path starts a value, or follows a separator (``--file=/etc/x``, ``a:/etc/x``)."""
_AFTER_PATH = r"(?=$|[/\s:,'\"])"


def host_paths(value: str, mounts: Sequence[Mount]) -> str:
    """``value`` (an argument, a variable's value, a directory) with each mount path in it
    replaced by the host directory mounted there: a host process has no mount namespace, so
    the process runtime points ``cat /etc/jobsink-event/event`` at the volume's files. A
    path counts where it starts the value or follows ``=``, ``:``, ``,``, a quote or a space,
    and ends there or goes on with ``/``; the longest mount path wins; ``/`` is never
    replaced."""
    sources: dict[str, str] = {}
    for mount in mounts:
        target = mount.target.rstrip("/")
        if target and target in value:
            sources.setdefault(target, mount.source)
    if not sources:
        return value
    # one pass over the value, the longest path first among the alternatives: a host
    # directory put in is never matched again (a mount at /var, the data dir under /var/lib)
    alternatives = "|".join(re.escape(t) for t in sorted(sources, key=len, reverse=True))
    pattern = _BEFORE_PATH + "(" + alternatives + ")" + _AFTER_PATH
    return re.sub(pattern, lambda m: sources[m.group(1)], value)


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
        source = (directory / sub).resolve() if sub else directory
        if sub and not source.is_relative_to(directory.resolve()):
            # admission refuses such a subPath; one stored before it did never leaves the volume
            raise ContainerConfigError(f"volumeMounts: subPath {sub!r} leaves the volume")
        found.append(Mount(str(source), target, read_only))
    return tuple(found)


def _write(directory: Path, content: dict[str, bytes], *, create: bool = True) -> bool:
    """Make ``directory``'s files exactly ``content`` (key -> bytes), in place: a changed file
    is replaced atomically (written beside, then renamed over), one no longer wanted is
    removed, the directory itself is kept (a container's bind mount of it sees the new files).
    Whether anything changed."""
    if create:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
    root = directory.resolve()
    wanted: set[Path] = set()
    changed = False
    for path, data in content.items():
        target = (directory / path).resolve()
        if not target.is_relative_to(root) or target == root:
            continue  # an items path leaving the volume
        wanted.add(target)
        try:
            if target.read_bytes() == data:
                continue
        except OSError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fresh = target.with_name(f".{target.name}.new")
        files.write_private(fresh, data)
        fresh.chmod(0o644)
        os.replace(fresh, target)
        changed = True
    for found in sorted(root.rglob("*"), reverse=True):
        if found.is_file() and found not in wanted:
            found.unlink(missing_ok=True)
            changed = True
        elif found.is_dir() and not any(found.iterdir()):
            found.rmdir()
    return changed


async def refresh(store: ResourceStore, root: Path, pod: Mapping[str, Any]) -> list[str]:
    """Bring the ``configMap`` and ``secret`` volumes already written for ``pod`` up to date
    with their objects, as Kubernetes' kubelet syncs them while the Pod runs (a renewed OIDC
    token Secret reaches ``/oidc/token``): the volumes that changed. A volume not written yet
    (no container started) is left to :func:`mounts`; an object gone or unreadable leaves its
    files as they are."""
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    base = pod_dir(root, str(meta.get("uid") or ""))
    changed: list[str] = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        if not isinstance(volume, Mapping):
            continue
        directory = base / str(volume.get("name"))
        if not directory.is_dir():
            continue
        for kind, name_key in (("configMap", "name"), ("secret", "secretName")):
            source = volume.get(kind)
            if not isinstance(source, Mapping):
                continue
            name = str(source.get(name_key) or "")
            try:
                data = await _data(store, namespace, kind, name, bool(source.get("optional")))
            except ContainerConfigError:
                break
            content = _files(data, source.get("items"))
            if await asyncio.to_thread(_refresh_files, directory, content):
                changed.append(str(volume.get("name")))
            break
    return changed


def _refresh_files(directory: Path, content: dict[str, bytes]) -> bool:
    """:func:`_write`, but only into a volume directory that still exists: the Pod's files
    removed meanwhile (it stopped while its Secret was read) are never written again."""
    if not directory.is_dir():
        return False
    try:
        return _write(directory, content, create=False)
    except OSError:  # removed while being written: the Pod is gone
        return False
