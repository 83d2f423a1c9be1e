"""The CustomResourceDefinitions of the kinds kawa serves (``kubectl get crd``), read-only.

In a cluster, Knative's kinds exist because ``eventing-crds.yaml`` created their
CustomResourceDefinitions; in kawa they are built in. :func:`definitions` derives, for
every kind outside Kubernetes' own groups (and once more for a legacy group such as
``sources.eventing.knative.dev``), the ``apiextensions.k8s.io/v1`` object a Knative install
would show: names (plural, singular, kind, listKind, short names, categories), scope,
versions (served; the first of the kind's own group is the storage version) with the schema
of ``/openapi/v3`` (``metadata`` as a plain object, as in a CRD), the ``status``
subresource, printer columns, and ``Established``/``NamesAccepted`` conditions. Sources
carry ``duck.knative.dev/source: "true"``, as Knative labels them (``kn source list``), and a
kind's own ``crd_labels`` are added (channels: ``messaging.knative.dev/subscribable``).
:func:`sync` stores them when kawa starts (created, updated when a declaration changed,
deleted when a kind is gone); the API answers writes with ``405`` (:data:`READ_ONLY`).
Called by :func:`kawa.runtime.serve`.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any, Final

from kawa.apis import apiextensions
from kawa.apis.kinds import ResourceKind
from kawa.apis.registry import Scheme
from kawa.apiserver import openapi
from kawa.errors import NotFoundError
from kawa.store.base import ResourceKey, ResourceStore

READ_ONLY: Final = frozenset({apiextensions.CUSTOM_RESOURCE_DEFINITION.resource})
"""Resources the API serves but nobody writes through it."""
READ_ONLY_MESSAGE: Final = (
    "{resource} are read-only in kawa: it serves its built-in Knative kinds and cannot "
    "serve new ones (kubectl get crd lists them)"
)

_RESOURCE: Final = apiextensions.CUSTOM_RESOURCE_DEFINITION.resource
_SOURCES: Final = frozenset({"sources.knative.dev", "sources.eventing.knative.dev"})


def _groups(rk: ResourceKind) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for api_version in rk.served_api_versions:
        group, _, version = api_version.rpartition("/")
        out.setdefault(group, []).append(version)
    return out


def _schema(rk: ResourceKind, group: str, version: str, storage: bool) -> dict[str, Any]:
    schema = dict(openapi.kind_schema(rk, group, version, storage))
    schema.pop("x-kubernetes-group-version-kind", None)
    properties = dict(schema["properties"])
    properties["metadata"] = {"type": "object"}
    schema["properties"] = properties
    return schema


def _columns(rk: ResourceKind) -> list[dict[str, Any]]:
    out = []
    for column in rk.printer_columns:
        if not column.json_path:
            continue
        entry: dict[str, Any] = {
            "name": column.name,
            "type": column.type,
            "jsonPath": column.json_path,
        }
        if column.priority:
            entry["priority"] = column.priority
        if column.description:
            entry["description"] = column.description
        out.append(entry)
    return out


def definition(rk: ResourceKind, group: str) -> dict[str, Any]:
    """The CustomResourceDefinition of ``rk`` in ``group`` (its own or a legacy one)."""
    versions = _groups(rk)[group]
    names: dict[str, Any] = {
        "plural": rk.plural,
        "singular": rk.singular,
        "kind": rk.kind,
        "listKind": f"{rk.kind}List",
    }
    if rk.short_names:
        names["shortNames"] = list(rk.short_names)
    if rk.categories and group == rk.group:
        names["categories"] = list(rk.categories)
    labels = {"app.kubernetes.io/part-of": "kawa", "knative.dev/crd-install": "true"}
    if group in _SOURCES:
        labels["duck.knative.dev/source"] = "true"
    labels.update(rk.crd_labels)
    columns = _columns(rk)
    served = []
    for i, version in enumerate(versions):
        entry: dict[str, Any] = {
            "name": version,
            "served": True,
            "storage": i == 0,
            "schema": {
                "openAPIV3Schema": _schema(rk, group, version, i == 0 and group == rk.group)
            },
        }
        if "status" in rk.subresources:
            entry["subresources"] = {"status": {}}
        if columns:
            entry["additionalPrinterColumns"] = columns
        served.append(entry)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{rk.plural}.{group}", "labels": labels},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced" if rk.namespaced else "Cluster",
            "versions": served,
            "conversion": {"strategy": "None"},
        },
    }


def _status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    return {
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v["storage"]],
    }


def is_builtin(group: str) -> bool:
    return not group or group.endswith(".k8s.io")


def definitions(scheme: Scheme) -> list[dict[str, Any]]:
    """Every kind's CustomResourceDefinition, by name."""
    out = [
        definition(rk, group)
        for rk in scheme.kinds
        for group in _groups(rk)
        if not is_builtin(group)
    ]
    return sorted(out, key=lambda crd: str(crd["metadata"]["name"]))


async def sync(store: ResourceStore, scheme: Scheme) -> None:
    """Store :func:`definitions`: create, update what changed, delete what is gone."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    wanted = {crd["metadata"]["name"]: crd for crd in definitions(scheme)}
    for existing in (await store.list(_RESOURCE)).items:
        name = existing["metadata"]["name"]
        if name not in wanted:
            with contextlib.suppress(NotFoundError):
                await store.delete(ResourceKey(_RESOURCE, "", name))
    for name, crd in wanted.items():
        key = ResourceKey(_RESOURCE, "", name)
        try:
            stored = await store.get(key)
        except NotFoundError:
            stored = await store.create(key, crd)
        else:
            if (
                stored.get("spec") != crd["spec"]
                or stored["metadata"].get("labels") != (crd["metadata"]["labels"])
            ):
                stored["spec"] = crd["spec"]
                stored["metadata"]["labels"] = crd["metadata"]["labels"]
                stored = await store.update(key, stored)
        conditions = (stored.get("status") or {}).get("conditions") or [{}]
        status = _status(crd, conditions[0].get("lastTransitionTime") or now)
        if stored.get("status") != status:
            stored["status"] = status
            await store.update(key, stored, status_only=True)
