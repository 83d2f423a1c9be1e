"""The environment of a container process, as the kubelet builds it.

Base: ``PATH``, ``HOME``, ``LANG``, ``TZ`` and ``TMPDIR`` from kawa's own environment and
``HOSTNAME`` = the Pod's name; then the container's ``env`` in order: ``value`` (with
Kubernetes' ``$(VAR)`` references to variables defined before it, ``$$`` for ``$``) or
``valueFrom``: ``fieldRef`` (``metadata.name``, ``metadata.namespace``, ``metadata.uid``,
``metadata.labels['k']``, ``metadata.annotations['k']``, ``spec.nodeName``,
``spec.serviceAccountName``, ``status.podIP``, ``status.hostIP``), ``resourceFieldRef`` and
``configMapKeyRef``/``secretKeyRef`` read from the store (a missing one fails the container
with ``CreateContainerConfigError`` unless ``optional``); finally ``PORT`` when the container
declares a port and sets no ``PORT`` itself. ``command`` and ``args`` get the same ``$(VAR)``
expansion (:func:`expand`). Used by :mod:`kawa.serving.kubelet.container`.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import core
from kawa.errors import NotFoundError
from kawa.serving.kubelet.probes import HOST, declared_port
from kawa.store.base import ResourceKey, ResourceStore

INHERITED: Final = ("PATH", "HOME", "LANG", "TZ", "TMPDIR")
DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_REFERENCE: Final = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_SUBSCRIPT: Final = re.compile(r"metadata\.(labels|annotations)\['([^']*)'\]")


class ContainerConfigError(Exception):
    """The container's environment cannot be built (Kubernetes' CreateContainerConfigError)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: known variables replaced, ``$$`` -> ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REFERENCE.sub(one, text)


def _field(pod: Mapping[str, Any], path: str, pod_ip: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    subscript = _SUBSCRIPT.fullmatch(path)
    if subscript is not None:
        values = meta.get(subscript.group(1)) or {}
        return str(values.get(subscript.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": pod_ip,
        "status.hostIP": HOST,
    }
    if path not in simple:
        raise ContainerConfigError(f"unsupported fieldRef fieldPath {path!r}")
    return str(simple[path] or "")


async def _key_ref(
    store: ResourceStore, namespace: str, ref: Mapping[str, Any], kind: str
) -> str | None:
    name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
    resource = core.CONFIG_MAP.resource if kind == "configmap" else core.SECRET.resource
    try:
        obj = await store.get(ResourceKey(resource, namespace, name))
    except NotFoundError:
        if ref.get("optional") is True:
            return None
        raise ContainerConfigError(f'{kind} "{name}" not found') from None
    data = obj.get("data") or {}
    if key not in data:
        if ref.get("optional") is True:
            return None
        raise ContainerConfigError(
            f"couldn't find key {key} in {kind.capitalize()} {namespace}/{name}"
        )
    value = data[key]
    if resource == core.SECRET.resource:
        try:
            return base64.b64decode(str(value)).decode("utf-8", "replace")
        except (binascii.Error, ValueError) as err:
            raise ContainerConfigError(f"secret {namespace}/{name} key {key}: {err}") from err
    return str(value)


def _resource(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    which, _, name = str(ref.get("resource") or "").partition(".")
    resources = container.get("resources") or {}
    values = resources.get(which) if isinstance(resources, Mapping) else None
    value = values.get(name) if isinstance(values, Mapping) else None
    return str(value) if value is not None else "0"


async def build_env(
    store: ResourceStore,
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    pod_ip: str = HOST,
) -> dict[str, str]:
    """The environment of ``container`` of ``pod`` (whose address is ``pod_ip``);
    ContainerConfigError when it cannot be built."""
    env = {k: os.environ[k] for k in INHERITED if os.environ.get(k)}
    env.setdefault("PATH", DEFAULT_PATH)
    meta = pod.get("metadata") or {}
    env["HOSTNAME"] = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or "default")
    declared: set[str] = set()
    for item in container.get("env") or ():
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        name = str(item["name"])
        source = item.get("valueFrom")
        value: str | None
        if isinstance(source, Mapping):
            if isinstance(source.get("fieldRef"), Mapping):
                value = _field(pod, str(source["fieldRef"].get("fieldPath") or ""), pod_ip)
            elif isinstance(source.get("configMapKeyRef"), Mapping):
                value = await _key_ref(store, namespace, source["configMapKeyRef"], "configmap")
            elif isinstance(source.get("secretKeyRef"), Mapping):
                value = await _key_ref(store, namespace, source["secretKeyRef"], "secret")
            elif isinstance(source.get("resourceFieldRef"), Mapping):
                value = _resource(container, source["resourceFieldRef"])
            else:
                raise ContainerConfigError(f"env {name}: valueFrom names no known source")
        else:
            value = expand(str(item.get("value") or ""), {k: env[k] for k in declared})
        if value is not None:
            env[name] = value
            declared.add(name)
    port = declared_port(container)
    if port and "PORT" not in declared:
        env["PORT"] = str(port)
    return env
