"""The serving.knative.dev API group: Service, Configuration, Revision and Route.

Each kind is declared once as models (:mod:`kawa.apis.model`): :mod:`.revision` (Revision, its
pod spec with Knative's field mask, and the revision template), :mod:`.traffic` (traffic
targets), :mod:`.configuration` (Configuration and Route), :mod:`.service` (Service, also
served as v1alpha1). :data:`KINDS` declares them for the registry. For the reconcilers:
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
    model=service.Service,
    status=service.ServiceStatus,
    short_names=("kservice", "ksvc"),
    categories=_CATEGORIES,
    printer_columns=(_URL, *_LATEST, *_READY),
    convert=service.convert_service,
)

CONFIGURATION: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=configuration.CONFIGURATION_KIND,
    plural="configurations",
    singular="configuration",
    namespaced=True,
    model=configuration.Configuration,
    status=configuration.ConfigurationStatus,
    short_names=("config", "cfg"),
    categories=_CATEGORIES,
    printer_columns=(*_LATEST, *_READY),
)

REVISION: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=revision.KIND,
    plural="revisions",
    singular="revision",
    namespaced=True,
    model=revision.Revision,
    status=revision.RevisionStatus,
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
)

ROUTE: Final = ResourceKind(
    group=GROUP,
    versions=("v1",),
    kind=configuration.ROUTE_KIND,
    plural="routes",
    singular="route",
    namespaced=True,
    model=configuration.Route,
    status=configuration.RouteStatus,
    short_names=("rt",),
    categories=_CATEGORIES,
    printer_columns=(_URL, *_READY),
)

KINDS: Final[tuple[ResourceKind, ...]] = (SERVICE, CONFIGURATION, REVISION, ROUTE)

__all__ = ["CONFIGURATION", "GROUP", "KINDS", "REVISION", "ROUTE", "SERVICE"]
