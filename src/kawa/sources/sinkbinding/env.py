"""The runtime contract a sink binding adds to containers: ``K_SINK`` and ``K_CE_OVERRIDES``.

As Knative's SinkBinding does (``Do``/``Undo``), binding first removes both variables from
every container and init container of a pod spec, then appends ``K_SINK`` (the sink's URL) and
``K_CE_OVERRIDES`` (``spec.ceOverrides`` as JSON, ``{"extensions":{...}}``; empty when the
source has none). Unbinding removes them. Pure functions over pod-spec dicts, used by the
SinkBinding reconciler (:mod:`.reconciler`) and the ContainerSource reconciler
(:mod:`kawa.sources.container`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis.sources import sinkbinding as sinkbinding_api

OIDC_TOKEN_VOLUME: Final = sinkbinding_api.OIDC_TOKEN_VOLUME
OIDC_TOKEN_PATH: Final = sinkbinding_api.OIDC_TOKEN_PATH
K_SINK: Final = "K_SINK"
K_CE_OVERRIDES: Final = "K_CE_OVERRIDES"
K_CA_CERTS: Final = "K_CA_CERTS"
BOUND_NAMES: Final = frozenset({K_SINK, K_CE_OVERRIDES, K_CA_CERTS})
_CONTAINER_LISTS: Final = ("initContainers", "containers")


def ce_overrides_json(obj: Mapping[str, Any]) -> str:
    """``spec.ceOverrides`` of a source or binding as compact JSON (keys sorted, as Go's
    encoder writes maps); ``""`` when it has none."""
    spec = obj.get("spec")
    overrides = spec.get("ceOverrides") if isinstance(spec, Mapping) else None
    if not isinstance(overrides, Mapping):
        return ""
    return json.dumps(overrides, sort_keys=True, separators=(",", ":"))


def _containers(pod_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in _CONTAINER_LISTS:
        items = pod_spec.get(key)
        if isinstance(items, list):
            out.extend(c for c in items if isinstance(c, dict))
    return out


def unbind(pod_spec: dict[str, Any]) -> None:
    """Remove ``K_SINK`` and ``K_CE_OVERRIDES`` (and ``K_CA_CERTS``) from every container, and
    the OIDC token volume and its mounts."""
    _without_token(pod_spec)
    for container in _containers(pod_spec):
        env = container.get("env")
        if not isinstance(env, list):
            continue
        kept = [e for e in env if not (isinstance(e, Mapping) and e.get("name") in BOUND_NAMES)]
        if kept:
            container["env"] = kept
        else:
            container.pop("env", None)


def bind(
    pod_spec: dict[str, Any],
    url: str,
    overrides: str,
    token_secret: str | None = None,
    ca_certs: str | None = None,
) -> None:
    """Give every container ``K_SINK=url`` and ``K_CE_OVERRIDES=overrides`` (replacing any),
    with ``ca_certs`` (the sink's ``CACerts``: its https address) ``K_CA_CERTS`` as Knative's
    SinkBinding sets it, and with ``token_secret`` (authentication-oidc) the Secret's
    ``token`` at ``/oidc/token``, as Knative's SinkBinding mounts it."""
    unbind(pod_spec)
    for container in _containers(pod_spec):
        env = container.get("env")
        if not isinstance(env, list):
            env = container["env"] = []
        env.append({"name": K_SINK, "value": url})
        env.append({"name": K_CE_OVERRIDES, "value": overrides})
        if ca_certs:
            env.append({"name": K_CA_CERTS, "value": ca_certs})
    if token_secret is None:
        return
    volumes = pod_spec.get("volumes")
    if not isinstance(volumes, list):
        volumes = pod_spec["volumes"] = []
    volumes.append({"name": OIDC_TOKEN_VOLUME, "secret": {"secretName": token_secret}})
    for container in _containers(pod_spec):
        mounts = container.get("volumeMounts")
        if not isinstance(mounts, list):
            mounts = container["volumeMounts"] = []
        mounts.append({"name": OIDC_TOKEN_VOLUME, "mountPath": OIDC_TOKEN_PATH, "readOnly": True})


def _without_token(pod_spec: dict[str, Any]) -> None:
    volumes = pod_spec.get("volumes")
    if isinstance(volumes, list):
        kept = [v for v in volumes if not _is_token(v)]
        if kept:
            pod_spec["volumes"] = kept
        else:
            pod_spec.pop("volumes", None)
    for container in _containers(pod_spec):
        mounts = container.get("volumeMounts")
        if isinstance(mounts, list):
            kept = [m for m in mounts if not _is_token(m)]
            if kept:
                container["volumeMounts"] = kept
            else:
                container.pop("volumeMounts", None)


def _is_token(item: object) -> bool:
    return isinstance(item, Mapping) and item.get("name") == OIDC_TOKEN_VOLUME


def bound_sink(pod_spec: Mapping[str, Any]) -> str | None:
    """The ``K_SINK`` value of the first container that has one."""
    for container in _containers(pod_spec):
        for item in container.get("env") or []:
            if isinstance(item, Mapping) and item.get("name") == K_SINK:
                value = item.get("value")
                return value if isinstance(value, str) else None
    return None


def ca_certs_of(binding: Mapping[str, Any]) -> str | None:
    """A SinkBinding's ``status.sinkCACerts`` (its sink's https address), or ``None``."""
    status = binding.get("status")
    certs = status.get("sinkCACerts") if isinstance(status, Mapping) else None
    return certs if isinstance(certs, str) and certs else None


def token_secret_of(binding: Mapping[str, Any]) -> str | None:
    """A SinkBinding's ``status.oidcTokenSecretName`` (authentication-oidc), or ``None``."""
    status = binding.get("status")
    name = status.get("oidcTokenSecretName") if isinstance(status, Mapping) else None
    return name if isinstance(name, str) and name else None
