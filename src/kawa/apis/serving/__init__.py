"""The serving.knative.dev API group: Service, Configuration, Revision and Route.

Modules: :mod:`.revision` (Revision and the revision template), :mod:`.traffic`,
:mod:`.configuration` (Configuration and Route), :mod:`.service` (Service, also served as
v1alpha1). :data:`KINDS` declares them for the registry. For the reconcilers:
:mod:`.resources` (the objects one kind makes for another, revision names),
:mod:`.configuration_status`, :mod:`.revision_status` and :mod:`.route` (status of each
kind, traffic resolution, URLs).
"""

from __future__ import annotations

from typing import Final

from kawa.apis import kn_common
from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.apis.serving import configuration, revision, service

GROUP: Final = revision.GROUP
_CATEGORIES: Final = ("all", "knative", "serving")
_URL: Final = PrinterColumn("URL", "string", ".status.url")
_LATEST: Final = (
    PrinterColumn("LatestCreated", "string", ".status.latestCreatedRevisionName"),
    PrinterColumn("LatestReady", "string", ".status.latestReadyRevisionName"),
)
_READY: Final = (kn_common.READY, kn_common.REASON)

SERVICE: Final = ResourceKind(
    group=GROUP,
    versions=("v1", "v1alpha1"),
    kind=service.KIND,
    plural="services",
    singular="service",
    namespaced=True,
    legacy_default=service.default_service,
    legacy_validate=service.validate_service,
    legacy_validate_update=service.validate_service_update,
    short_names=("kservice", "ksvc"),
    categories=_CATEGORIES,
    printer_columns=(_URL, *_LATEST, *_READY),
    legacy_schema=service.SCHEMA,
    convert=service.convert_service,
)

CONFIGURATION: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=configuration.CONFIGURATION_KIND,
    plural="configurations",
    singular="configuration",
    namespaced=True,
    legacy_default=configuration.default_configuration,
    legacy_validate=configuration.validate_configuration,
    legacy_validate_update=configuration.validate_configuration_update,
    short_names=("config", "cfg"),
    categories=_CATEGORIES,
    printer_columns=(*_LATEST, *_READY),
    legacy_schema=configuration.CONFIGURATION_SCHEMA,
)

REVISION: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=revision.KIND,
    plural="revisions",
    singular="revision",
    namespaced=True,
    legacy_default=revision.default_revision,
    legacy_validate=revision.validate_revision,
    legacy_validate_update=revision.validate_revision_update,
    short_names=("rev",),
    categories=_CATEGORIES,
    printer_columns=(
        PrinterColumn(
            "Config Name",
            "string",
            ".metadata.labels['serving\\.knative\\.dev/configuration']",
            value=revision.label_cell(revision.CONFIGURATION_LABEL),
        ),
        PrinterColumn(
            "Generation",
            "string",
            ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']",
            value=revision.label_cell(revision.CONFIGURATION_GENERATION_LABEL),
        ),
        *_READY,
        PrinterColumn("Actual Replicas", "integer", ".status.actualReplicas"),
        PrinterColumn("Desired Replicas", "integer", ".status.desiredReplicas"),
    ),
    legacy_schema=revision.SCHEMA,
)

ROUTE: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=configuration.ROUTE_KIND,
    plural="routes",
    singular="route",
    namespaced=True,
    legacy_default=configuration.default_route,
    legacy_validate=configuration.validate_route,
    legacy_validate_update=configuration.validate_route_update,
    short_names=("rt",),
    categories=_CATEGORIES,
    printer_columns=(_URL, *_READY),
    legacy_schema=configuration.ROUTE_SCHEMA,
)

KINDS: Final[tuple[ResourceKind, ...]] = (SERVICE, CONFIGURATION, REVISION, ROUTE)

__all__ = ["CONFIGURATION", "GROUP", "KINDS", "REVISION", "ROUTE", "SERVICE"]
