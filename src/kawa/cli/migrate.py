"""``kawa export`` and ``kawa import``: move a setup between kawa deployments (a laptop's SQLite
and a JetStream cluster, say) as one YAML stream.

Export lists every kind of the scheme across all namespaces and writes what a user would
apply to rebuild it: the objects' ``apiVersion``, ``kind``, ``metadata`` (name, namespace,
labels, annotations, finalizers) and ``spec``/``data``, Namespaces first. It leaves out what
the target makes again: status, the store's bookkeeping (uid, resourceVersion, generation,
creationTimestamp, managedFields), objects a controller owns (a Service's Revisions and
Routes, a Deployment's ReplicaSets and Pods, a Sequence's channels; their owner makes them
again), ``ownerReferences`` (their uids would name nothing on the target, and the garbage
collector would delete the object), and what is observed rather than declared: Events,
Endpoints, EndpointSlices, Nodes and CRDs. Secrets are exported with their data: the file is
written readable by its owner only.

Import applies such a stream in its order (as ``kawa apply`` does: create, or update what
exists), so the same file can be imported twice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, TextIO

import click
import yaml

from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import SCHEME
from kawa.cli.client import ApiClient, CliError, describe_failure, resource_path

OBSERVED: Final = frozenset(
    {"events", "endpoints", "endpointslices", "nodes", "customresourcedefinitions"}
)
"""Plurals of kinds that are observed state, not configuration: never exported."""
BOOKKEEPING: Final = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)


def _controlled(obj: Mapping[str, Any]) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(isinstance(ref, dict) and ref.get("controller") for ref in refs)


def _declared(rk: ResourceKind, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as a manifest: no status, no bookkeeping."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in BOOKKEEPING}
    out: dict[str, Any] = {
        "apiVersion": f"{rk.group}/{rk.versions[0]}" if rk.group else rk.versions[0],
        "kind": rk.kind,
        "metadata": meta,
    }
    out.update(
        (k, v) for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")
    )
    return out


def exported(client: ApiClient) -> Iterator[dict[str, Any]]:
    """Every object worth exporting, Namespaces first, then in the scheme's order."""
    kinds = sorted(
        (rk for rk in SCHEME.kinds if rk.plural not in OBSERVED),
        key=lambda rk: rk.plural != "namespaces" or rk.group != "",
    )
    for rk in kinds:
        status, payload = client.request("GET", resource_path(rk, None))
        if status in (404, 405):
            continue  # not listable
        if not 200 <= status < 300 or not isinstance(payload, dict):
            raise CliError(f"cannot list {rk.plural}: {describe_failure(status, payload)}")
        for obj in payload.get("items") or []:
            if isinstance(obj, dict) and not _controlled(obj):
                yield _declared(rk, obj)


def export(client: ApiClient, output: str) -> int:
    """Write the export to ``output`` (a file, or ``-``); the number of objects."""
    objects = list(exported(client))
    if output == "-":
        _write(sys.stdout, objects)
    else:
        path = Path(output)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                _write(out, objects)
        except OSError as err:
            raise CliError(f"{output}: cannot write: {err}") from None
    secrets = sum(1 for obj in objects if obj["kind"] == "Secret")
    note = f" (with {secrets} Secret(s): keep the file private)" if secrets else ""
    click.echo(f"exported {len(objects)} object(s){note}", err=True)
    return len(objects)


def _write(out: TextIO, objects: list[dict[str, Any]]) -> None:
    yaml.safe_dump_all(objects, out, sort_keys=False, default_flow_style=False)
