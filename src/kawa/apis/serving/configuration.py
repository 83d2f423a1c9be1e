"""The Configuration and Route kinds (serving.knative.dev/v1).

A Configuration holds ``spec.template`` (see :mod:`.revision`); each change creates a
Revision; status ``latestCreatedRevisionName``/``latestReadyRevisionName``. A Route holds
``spec.traffic`` (see :mod:`.traffic`); status ``url``, ``address.url``, ``traffic``;
conditions ``AllTrafficAssigned``, ``IngressReady``, ``CertificateProvisioned``. Declared in
:data:`kawa.apis.serving.KINDS`; read by the serving reconcilers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck
from kawa.apis.conditions import ConditionSet
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.serving import traffic
from kawa.apis.serving.revision import RevisionTemplateSpec
from kawa.apis.serving.traffic import RouteTrafficTarget
from kawa.errors import FieldError

API_VERSION: Final = "serving.knative.dev/v1"
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


class ConfigurationSpec(Model):
    """The desired revision; each change of the template creates a Revision."""

    template: Annotated[
        RevisionTemplateSpec,
        doc("The revision to create: each change of it creates a new Revision."),
    ]


class Configuration(KubeObject):
    """The desired revision of a workload: each change of its template creates a Revision."""

    spec: Annotated[
        ConfigurationSpec,
        doc("The desired revision; each change of the template creates a Revision."),
    ]

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """A named template (BYO revision name) must be renamed when its content changes."""
        return template_update_errors(old, new)


class ConfigurationStatus(duck.Status):
    """The state of the Configuration."""

    latest_created_revision_name: Annotated[str | None, doc("The newest revision created.")] = None
    latest_ready_revision_name: Annotated[
        str | None, doc("The newest revision that became ready.")
    ] = None


class RouteSpec(Model):
    """How requests are split between revisions."""

    traffic: Annotated[list[RouteTrafficTarget], doc("The traffic targets.")] = []

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        traffic.default_traffic(data)

    def check(self, ctx: Context) -> Iterable[FieldError]:
        return traffic.traffic_errors(self.traffic, ctx)


class Route(KubeObject):
    """A named endpoint splitting requests between revisions."""

    spec: Annotated[RouteSpec, doc("How requests are split between revisions.")] = RouteSpec()


class RouteStatus(duck.Status):
    """The state of the Route."""

    url: Annotated[str | None, doc("The public URL.")] = None
    address: Annotated[duck.Addressable | None, doc("The cluster-local address.")] = None
    traffic: Annotated[list[RouteTrafficTarget] | None, doc("The traffic as assigned.")] = None


def parse_configuration(obj: Mapping[str, Any]) -> Configuration:
    """A Configuration defaulted, validated and typed (raises ValidationError)."""
    return parse_object(
        Configuration, obj, kind=CONFIGURATION_KIND, api_versions=(API_VERSION,), namespaced=True
    )


def parse_route(obj: Mapping[str, Any]) -> Route:
    """A Route defaulted, validated and typed (raises ValidationError)."""
    return parse_object(Route, obj, kind=ROUTE_KIND, api_versions=(API_VERSION,), namespaced=True)


def template_name(spec: Mapping[str, Any]) -> str:
    """``template.metadata.name`` of a Service's or Configuration's spec dict (``""``)."""
    template = spec.get("template")
    metadata = template.get("metadata") if isinstance(template, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


def template_update_errors(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldError]:
    """A named template (a revision name given once) whose content changed keeps its name:
    the update of a Service or Configuration is refused."""
    old_spec, new_spec = old.get("spec"), new.get("spec")
    if not isinstance(old_spec, Mapping) or not isinstance(new_spec, Mapping):
        return []
    name = template_name(new_spec)
    if (
        name
        and name == template_name(old_spec)
        and old_spec.get("template") != new_spec.get("template")
    ):
        return [
            FieldError(
                "spec.template.metadata.name",
                f"the template changed but its name {name!r} did not: a revision name is given "
                "once; change the name or remove it",
            )
        ]
    return []
