"""API discovery in the legacy (non-aggregated) form: ``/api``, ``/api/v1``, ``/apis``,
``/apis/<group>/<version>``.

kubectl first asks for aggregated discovery (``apidiscovery.k8s.io``) and accepts the legacy
form in answer (plain ``application/json``), then fetches each group-version's resource list.
What it uses: group and version names and the preferred (first) version; per resource its
plural, singular, kind, namespaced flag, verbs, short names, categories (``kubectl get all``)
and subresources (``pods/log``, ``brokers/status``).
"""

from __future__ import annotations

from typing import Any, Final

from kawa import __version__
from kawa.apis.registry import Scheme
from kawa.apiserver.crds import READ_ONLY
from kawa.apiserver.reviews import REVIEWS

VERBS: Final = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
READ_VERBS: Final = ["get", "list", "watch"]
STREAMING: Final = {"exec": "PodExecOptions", "portforward": "PodPortForwardOptions"}
"""The Pod subresources kubectl opens a stream on (``exec``, ``port-forward``), by kind."""


def version() -> dict[str, Any]:
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": f"v1.32.0+kawa.{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "kawa",
    }


def _group_versions(scheme: Scheme) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for group, version in REVIEWS:
        groups.setdefault(group, []).append(version)
    for rk in scheme.kinds:
        for api_version in rk.served_api_versions:
            group, _, version = api_version.rpartition("/")
            versions = groups.setdefault(group, [])
            if version not in versions:
                versions.append(version)
    return groups


def core_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def groups(scheme: Scheme) -> dict[str, Any]:
    out = []
    for group, versions in _group_versions(scheme).items():
        if not group:
            continue
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        out.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def resources(scheme: Scheme, group: str, version: str) -> dict[str, Any] | None:
    api_version = f"{group}/{version}" if group else version
    kinds = [rk for rk in scheme.kinds if api_version in rk.served_api_versions]
    reviews = REVIEWS.get((group, version), ())
    if not kinds and not reviews:
        return None
    listed: list[dict[str, Any]] = [
        {
            "name": plural,
            "singularName": kind.lower(),
            "namespaced": namespaced,
            "kind": kind,
            "verbs": ["create"],
        }
        for plural, kind, namespaced in reviews
    ]
    for rk in kinds:
        entry: dict[str, Any] = {
            "name": rk.plural,
            "singularName": rk.singular,
            "namespaced": rk.namespaced,
            "kind": rk.kind,
            "verbs": READ_VERBS if rk.resource in READ_ONLY else VERBS,
        }
        if rk.short_names:
            entry["shortNames"] = list(rk.short_names)
        if rk.categories and api_version in rk.api_versions:
            # a legacy group (sources.eventing.knative.dev) is the same objects again: in
            # categories it would list them twice in ``kubectl get all``
            entry["categories"] = list(rk.categories)
        listed.append(entry)
        for sub in rk.subresources:
            entry = {
                "name": f"{rk.plural}/{sub}",
                "singularName": "",
                "namespaced": rk.namespaced,
                "kind": "Pod" if sub == "log" else rk.kind,
                "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
            }
            if sub in STREAMING:  # Kubernetes lists them so: options kinds, create and get
                entry.update(kind=STREAMING[sub], verbs=["create", "get"])
            if sub == "scale":  # an autoscaling/v1 Scale, whatever the parent's group
                entry.update(group="autoscaling", version="v1", kind="Scale")
            if sub == "token":  # a ServiceAccount's TokenRequest (kawa.apiserver.oidc)
                entry.update(
                    group="authentication.k8s.io",
                    version="v1",
                    kind="TokenRequest",
                    verbs=["create"],
                )
            listed.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version,
        "resources": listed,
    }
