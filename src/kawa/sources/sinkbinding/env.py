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

K_SINK: Final = "K_SINK"
K_CE_OVERRIDES: Final = "K_CE_OVERRIDES"
BOUND_NAMES: Final = frozenset({K_SINK, K_CE_OVERRIDES, "K_CA_CERTS"})
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


def unbind(pod_spec: Mapping[str, Any]) -> None:
    """Remove ``K_SINK`` and ``K_CE_OVERRIDES`` (and ``K_CA_CERTS``) from every container."""
    for container in _containers(pod_spec):
        env = container.get("env")
        if not isinstance(env, list):
            continue
        kept = [e for e in env if not (isinstance(e, Mapping) and e.get("name") in BOUND_NAMES)]
        if kept:
            container["env"] = kept
        else:
            container.pop("env", None)


def bind(pod_spec: Mapping[str, Any], url: str, overrides: str) -> None:
    """Give every container ``K_SINK=url`` and ``K_CE_OVERRIDES=overrides`` (replacing any)."""
    unbind(pod_spec)
    for container in _containers(pod_spec):
        env = container.get("env")
        if not isinstance(env, list):
            env = container["env"] = []
        env.append({"name": K_SINK, "value": url})
        env.append({"name": K_CE_OVERRIDES, "value": overrides})


def bound_sink(pod_spec: Mapping[str, Any]) -> str | None:
    """The ``K_SINK`` value of the first container that has one."""
    for container in _containers(pod_spec):
        for item in container.get("env") or []:
            if isinstance(item, Mapping) and item.get("name") == K_SINK:
                value = item.get("value")
                return value if isinstance(value, str) else None
    return None
