"""The objects one serving kind makes for another: Service -> Configuration + Route,
Configuration -> Revision, and their names, labels and owner references.

Knative's shapes: a Service's Configuration and Route carry its name, its labels and
annotations (without kubectl's last-applied one), the label ``serving.knative.dev/service``
and an owner reference (``controller: true``). A Configuration's Revisions are named
``<configuration>-00001`` after its generation (or ``spec.template.metadata.name``) and carry
the template's labels and annotations plus the labels ``configuration``,
``configurationGeneration``, ``configurationUID`` (and ``service`` when it has one). Called by
the serving reconcilers (:mod:`kawa.controllers.serving`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.model.base import Context
from kawa.apis.model.defaults import apply_defaults
from kawa.apis.serving import configuration, revision

API_VERSION: Final = revision.API_VERSION
GROUP: Final = revision.GROUP
SERVICE_LABEL: Final = revision.SERVICE_LABEL
SERVICE_UID_LABEL: Final = "serving.knative.dev/serviceUID"
CONFIGURATION_LABEL: Final = revision.CONFIGURATION_LABEL
CONFIGURATION_GENERATION_LABEL: Final = revision.CONFIGURATION_GENERATION_LABEL
CONFIGURATION_UID_LABEL: Final = "serving.knative.dev/configurationUID"
REVISION_LABEL: Final = "serving.knative.dev/revision"
REVISION_UID_LABEL: Final = "serving.knative.dev/revisionUID"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"

child_name = meta.child_name


def revision_name(config_name: str, generation: int, template_name: str = "") -> str:
    """The Revision a Configuration's generation creates: the template's name, or
    ``<configuration>-<generation padded to 5>``."""
    return template_name or child_name(config_name, f"-{generation:05d}")


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """A controller owner reference to ``owner``."""
    metadata = meta.metadata_of(owner)
    return {
        "apiVersion": str(owner.get("apiVersion", API_VERSION)),
        "kind": str(owner.get("kind", "")),
        "name": str(metadata.get("name", "")),
        "uid": str(metadata.get("uid", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference with ``controller: true``, if any."""
    refs = meta.metadata_of(obj).get("ownerReferences")
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Whether ``owner`` (same kind and uid) is ``obj``'s controller."""
    ref = controller_of(obj)
    owner_meta = meta.metadata_of(owner)
    return (
        ref is not None
        and ref.get("kind") == owner.get("kind")
        and bool(owner_meta.get("uid"))
        and ref.get("uid") == owner_meta.get("uid")
    )


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _child_metadata(parent: Mapping[str, Any], name: str) -> dict[str, Any]:
    metadata = meta.metadata_of(parent)
    labels = _string_map(metadata.get("labels"))
    labels[SERVICE_LABEL] = str(metadata.get("name", ""))
    if metadata.get("uid"):
        labels[SERVICE_UID_LABEL] = str(metadata["uid"])
    annotations = _string_map(metadata.get("annotations"))
    annotations.pop(LAST_APPLIED, None)
    out: dict[str, Any] = {
        "name": name,
        "namespace": meta.namespace_of(parent),
        "labels": labels,
        "ownerReferences": [owner_reference(parent)],
    }
    if annotations:
        out["annotations"] = annotations
    return out


def make_configuration(service: Mapping[str, Any]) -> dict[str, Any]:
    """The Configuration of a (v1, defaulted) Service: same name, its template."""
    spec = service.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    name = str(meta.metadata_of(service).get("name", ""))
    return {
        "apiVersion": API_VERSION,
        "kind": configuration.CONFIGURATION_KIND,
        "metadata": _child_metadata(service, name),
        "spec": {"template": copy.deepcopy(template) if template is not None else {}},
    }


def route_traffic_of_service(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Service's ``spec.traffic`` as its Route's: the latest-revision targets name the
    Service's Configuration (default: 100% to the latest revision)."""
    spec = service.get("spec")
    raw = spec.get("traffic") if isinstance(spec, Mapping) else None
    targets = raw if isinstance(raw, list) and raw else [{"latestRevision": True, "percent": 100}]
    name = str(meta.metadata_of(service).get("name", ""))
    out: list[dict[str, Any]] = []
    for target in targets:
        if not isinstance(target, Mapping):
            continue
        item = {k: copy.deepcopy(v) for k, v in target.items() if k != "url"}
        latest = item.get("latestRevision")
        if latest is None:
            latest = item["latestRevision"] = not item.get("revisionName")
        if latest:
            item["configurationName"] = name
        out.append(item)
    if len(out) == 1 and out[0].get("percent") is None:
        out[0]["percent"] = 100
    return out


def make_route(service: Mapping[str, Any]) -> dict[str, Any]:
    """The Route of a (v1, defaulted) Service: same name, its traffic."""
    name = str(meta.metadata_of(service).get("name", ""))
    return {
        "apiVersion": API_VERSION,
        "kind": configuration.ROUTE_KIND,
        "metadata": _child_metadata(service, name),
        "spec": {"traffic": route_traffic_of_service(service)},
    }


def make_revision(config: Mapping[str, Any]) -> dict[str, Any]:
    """The Revision of a Configuration's current generation (a snapshot of its template)."""
    metadata = meta.metadata_of(config)
    spec = config.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    template = template if isinstance(template, Mapping) else {}
    template_meta = template.get("metadata")
    template_meta = template_meta if isinstance(template_meta, Mapping) else {}
    generation = metadata.get("generation")
    generation = generation if isinstance(generation, int) else 1
    config_name = str(metadata.get("name", ""))
    name = revision_name(config_name, generation, configuration.template_name(spec or {}))
    labels = _string_map(template_meta.get("labels"))
    labels[CONFIGURATION_LABEL] = config_name
    labels[CONFIGURATION_GENERATION_LABEL] = str(generation)
    if metadata.get("uid"):
        labels[CONFIGURATION_UID_LABEL] = str(metadata["uid"])
    config_labels = _string_map(metadata.get("labels"))
    for key in (SERVICE_LABEL, SERVICE_UID_LABEL):
        if config_labels.get(key):
            labels[key] = config_labels[key]
    out_meta: dict[str, Any] = {
        "name": name,
        "namespace": meta.namespace_of(config),
        "labels": labels,
        "ownerReferences": [owner_reference(config)],
    }
    annotations = _string_map(template_meta.get("annotations"))
    if annotations:
        out_meta["annotations"] = annotations
    body = template.get("spec")
    rev_spec = copy.deepcopy(dict(body)) if isinstance(body, Mapping) else {}
    apply_defaults(revision.RevisionSpec, rev_spec, Context())
    return {
        "apiVersion": API_VERSION,
        "kind": revision.KIND,
        "metadata": out_meta,
        "spec": rev_spec,
    }


def configuration_generation(rev: Mapping[str, Any]) -> int:
    """The ``configurationGeneration`` label of a Revision (0 when absent or bad)."""
    labels = meta.metadata_of(rev).get("labels")
    value = labels.get(CONFIGURATION_GENERATION_LABEL) if isinstance(labels, Mapping) else None
    try:
        return int(str(value))
    except ValueError:
        return 0
