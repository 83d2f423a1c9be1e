"""The Configuration and Route kinds (serving.knative.dev/v1).

A Configuration holds ``spec.template`` (see :mod:`.revision`); each change creates a
Revision; status ``latestCreatedRevisionName``/``latestReadyRevisionName``. A Route holds
``spec.traffic`` (see :mod:`.traffic`); status ``url``, ``address.url``, ``traffic``;
conditions ``AllTrafficAssigned``, ``IngressReady``, ``CertificateProvisioned``. Declared in
:data:`kawa.apis.serving.KINDS`; read by the serving reconcilers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import kn_common, kn_schema, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.serving import revision, traffic
from kawa.errors import FieldError, ValidationError

API_VERSION: Final = revision.API_VERSION
CONFIGURATION_KIND: Final = "Configuration"
ROUTE_KIND: Final = "Route"

CONFIGURATION_CONDITIONS: Final = ConditionSet(())
"""A Configuration reports ``Ready`` alone (the latest created revision's readiness)."""
ALL_TRAFFIC_ASSIGNED: Final = "AllTrafficAssigned"
INGRESS_READY: Final = "IngressReady"
CERTIFICATE_PROVISIONED: Final = "CertificateProvisioned"
ROUTE_CONDITIONS: Final = ConditionSet(
    (ALL_TRAFFIC_ASSIGNED, INGRESS_READY, CERTIFICATE_PROVISIONED)
)


@dataclass(frozen=True, slots=True)
class Configuration:
    namespace: str
    name: str
    uid: str
    generation: int
    template: revision.RevisionSpec
    template_name: str


@dataclass(frozen=True, slots=True)
class Route:
    namespace: str
    name: str
    uid: str
    generation: int
    traffic: tuple[traffic.TrafficTarget, ...]


def template_name(spec: Mapping[str, Any]) -> str:
    template = spec.get("template")
    metadata = template.get("metadata") if isinstance(template, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


def default_configuration(obj: Mapping[str, Any]) -> meta.Object:
    out = kn_common.deep_copy(obj)
    revision.default_template(out.get("spec"))
    return out


def parse_configuration(obj: Mapping[str, Any]) -> Configuration:
    obj = default_configuration(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), CONFIGURATION_KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, ("template",), errors, required=True)
    template = revision.read_template(spec, errors, parent=who.name) if spec else None
    kn_common.raise_if_errors(errors, CONFIGURATION_KIND, obj)
    if template is None:
        raise ValidationError.single("spec.template", "required field is missing")
    return Configuration(
        who.namespace, who.name, who.uid, who.generation, template, template_name(spec)
    )


def validate_configuration(obj: Mapping[str, Any]) -> None:
    parse_configuration(obj)


def validate_configuration_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A named template (BYO revision name) must be renamed when its content changes."""
    validate_template_update(old, new, CONFIGURATION_KIND)


def validate_template_update(old: Mapping[str, Any], new: Mapping[str, Any], kind: str) -> None:
    old_spec, new_spec = old.get("spec"), new.get("spec")
    if not isinstance(old_spec, Mapping) or not isinstance(new_spec, Mapping):
        return
    name = template_name(new_spec)
    if (
        name
        and name == template_name(old_spec)
        and old_spec.get("template") != new_spec.get("template")
    ):
        raise ValidationError.single(
            "spec.template.metadata.name",
            f"the template changed but its name {name!r} did not: a revision name is given "
            "once; change the name or remove it",
            subject=meta.subject_of(kind, new),
        )


def default_route(obj: Mapping[str, Any]) -> meta.Object:
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        traffic.default_traffic(spec.get("traffic"))
    return out


def parse_route(obj: Mapping[str, Any]) -> Route:
    obj = default_route(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), ROUTE_KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, ("traffic",), errors, required=False)
    targets = traffic.read_traffic(spec, errors, in_service=False)
    kn_common.raise_if_errors(errors, ROUTE_KIND, obj)
    return Route(who.namespace, who.name, who.uid, who.generation, targets)


def validate_route(obj: Mapping[str, Any]) -> None:
    parse_route(obj)


def validate_route_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Every field of a Route may change."""


_LATEST: Final = {
    "latestCreatedRevisionName": kn_schema.string("The newest revision created."),
    "latestReadyRevisionName": kn_schema.string("The newest revision that became ready."),
}
_ROUTE_STATUS: Final = {
    "url": kn_schema.string("The public URL."),
    "address": kn_schema.address("The cluster-local address."),
    "traffic": traffic.traffic_schema("The traffic as assigned.", in_service=False),
}

CONFIGURATION_SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "The desired revision; each change of the template creates a Revision.",
        {"template": revision.template_schema()},
        required=("template",),
    ),
    kn_schema.status("The state of the Configuration.", _LATEST),
)

ROUTE_SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "How requests are split between revisions.",
        {"traffic": traffic.traffic_schema("The traffic targets.", in_service=False)},
    ),
    kn_schema.status("The state of the Route.", _ROUTE_STATUS),
)
