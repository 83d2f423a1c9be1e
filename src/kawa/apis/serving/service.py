"""The Service kind (serving.knative.dev/v1, ``ksvc``; and v1alpha1): a Configuration plus a
Route under one name.

``spec.template`` (see :mod:`.revision`) and ``spec.traffic`` (see :mod:`.traffic`; defaults
to 100% to the latest revision). Status: ``url``, ``address.url``,
``latestCreatedRevisionName``, ``latestReadyRevisionName``, ``traffic``; conditions
``ConfigurationsReady`` and ``RoutesReady`` behind ``Ready``. v1alpha1 accepts the template
shape and the 2019 ``runLatest.configuration.revisionTemplate`` / ``pinned`` shapes (a
singular ``container`` becoming ``containers``); :func:`convert_service` converts to v1, and
back to v1alpha1 in the template shape. Declared in :data:`kawa.apis.serving.KINDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, kn_common, meta
from kawa.apis.conditions import Clock, Condition, ConditionSet
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.objects import KubeObject, parse_object
from kawa.apis.serving import configuration, revision, traffic
from kawa.apis.serving.revision import RevisionTemplateSpec
from kawa.apis.serving.traffic import TrafficTarget
from kawa.errors import FieldError

API_VERSION: Final = revision.API_VERSION
API_VERSION_V1ALPHA1: Final = "serving.knative.dev/v1alpha1"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1ALPHA1)
KIND: Final = "Service"
_LEGACY_SHAPES: Final = ("runLatest", "pinned", "release", "manual")

CONFIGURATIONS_READY: Final = "ConfigurationsReady"
ROUTES_READY: Final = "RoutesReady"
SERVICE_CONDITIONS: Final = ConditionSet((CONFIGURATIONS_READY, ROUTES_READY))


class ServiceSpec(Model):
    """A serverless workload: a revision template and how traffic reaches revisions."""

    template: Annotated[
        RevisionTemplateSpec,
        doc("The revision to create: each change of it creates a new Revision."),
    ]
    traffic: Annotated[
        list[TrafficTarget],
        doc("How requests are split (default: all to the latest revision)."),
    ] = []

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """All the traffic to the latest revision when no target is given."""
        if not data.get("traffic"):
            data["traffic"] = [{"latestRevision": True, "percent": 100}]
        traffic.default_traffic(data)

    def check(self, ctx: Context) -> Iterable[FieldError]:
        return traffic.traffic_errors(self.traffic, ctx)


class Service(KubeObject):
    """A serverless workload: a Configuration and a Route under one name."""

    spec: Annotated[
        ServiceSpec,
        doc("A serverless workload: a revision template and how traffic reaches revisions."),
    ]

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """A named template must be renamed when its content changes (as for
        Configurations)."""
        return configuration.template_update_errors(old, new)


class ServiceStatus(duck.Status):
    """The state of the Service."""

    url: Annotated[str | None, doc("The public URL.")] = None
    address: Annotated[duck.Addressable | None, doc("The cluster-local address.")] = None
    latest_created_revision_name: Annotated[str | None, doc("The newest revision created.")] = None
    latest_ready_revision_name: Annotated[str | None, doc("The newest ready revision.")] = None
    traffic: Annotated[list[TrafficTarget] | None, doc("The traffic as assigned.")] = None


def parse_service(obj: Mapping[str, Any]) -> Service:
    """A Service of either version (read as v1) defaulted, validated and typed; raises
    :class:`~kawa.errors.ValidationError` with every problem."""
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1:
        obj = convert_service(obj, API_VERSION)
    return parse_object(Service, obj, kind=KIND, api_versions=API_VERSIONS, namespaced=True)


# -- conversion ------------------------------------------------------------------------------


def convert_service(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` as ``api_version``. From v1alpha1, ``runLatest`` and ``pinned`` become
    ``template`` (+ ``traffic``); to v1alpha1, the spec keeps the template shape."""
    if api_version not in API_VERSIONS:
        raise kn_common.convert_unsupported(KIND, api_version, API_VERSIONS)
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1 and api_version != API_VERSION_V1ALPHA1:
        kn_common.raise_if_errors(check_v1alpha1_shape(obj), KIND, obj)
    out = kn_common.deep_copy(obj)
    source_version = out.get("apiVersion")
    out["apiVersion"] = api_version
    spec = out.get("spec")
    if source_version != API_VERSION_V1ALPHA1 or not isinstance(spec, dict):
        return out
    shape = next((key for key in _LEGACY_SHAPES if key in spec), None)
    if shape in ("runLatest", "pinned"):
        legacy = spec.pop(shape)
        config = legacy.get("configuration") if isinstance(legacy, Mapping) else None
        template = config.get("revisionTemplate") if isinstance(config, Mapping) else None
        if template is not None:
            spec["template"] = template
        if shape == "pinned" and isinstance(legacy, Mapping) and legacy.get("revisionName"):
            spec["traffic"] = [
                {"revisionName": legacy["revisionName"], "latestRevision": False, "percent": 100}
            ]
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    if isinstance(pod, dict) and "container" in pod and "containers" not in pod:
        pod["containers"] = [pod.pop("container")]
    return out


def check_v1alpha1_shape(obj: Mapping[str, Any]) -> list[FieldError]:
    """The 2019 shapes kawa cannot convert (``release``, ``manual``)."""
    spec = obj.get("spec")
    if obj.get("apiVersion") != API_VERSION_V1ALPHA1 or not isinstance(spec, Mapping):
        return []
    return [
        FieldError(f"spec.{key}", "not supported; use spec.template and spec.traffic")
        for key in ("release", "manual")
        if key in spec
    ]


# -- status ----------------------------------------------------------------------------------


def propagate_configuration_status(
    status: dict[str, Any], config_status: Mapping[str, Any], *, clock: Clock
) -> None:
    """Copy the Configuration's revision names and readiness into the Service's status."""
    for key in ("latestCreatedRevisionName", "latestReadyRevisionName"):
        if config_status.get(key):
            status[key] = config_status[key]
    _propagate(status, CONFIGURATIONS_READY, config_status, clock)


def propagate_route_status(
    status: dict[str, Any], route_status: Mapping[str, Any], *, clock: Clock
) -> None:
    """Copy the Route's URL, address, traffic and readiness into the Service's status."""
    for key in ("url", "address", "traffic"):
        if route_status.get(key) is not None:
            status[key] = route_status[key]
    _propagate(status, ROUTES_READY, route_status, clock)


def mark_not_owned(status: dict[str, Any], kind: str, name: str, *, clock: Clock) -> None:
    """A Configuration or Route of the Service's name exists but is not the Service's."""
    SERVICE_CONDITIONS.mark_false(
        status,
        CONFIGURATIONS_READY if kind == configuration.CONFIGURATION_KIND else ROUTES_READY,
        "NotOwned",
        f'There is an existing {kind} "{name}" that we do not own.',
        clock=clock,
    )


def mark_not_reconciled(status: dict[str, Any], kind: str, *, clock: Clock) -> None:
    """The Configuration or Route has not caught up with its latest spec yet."""
    SERVICE_CONDITIONS.mark_unknown(
        status,
        CONFIGURATIONS_READY if kind == configuration.CONFIGURATION_KIND else ROUTES_READY,
        "OutOfDate",
        f"The {kind} is still working to reflect the latest desired specification.",
        clock=clock,
    )


def check_traffic_migrated(
    status: dict[str, Any], route_status: Mapping[str, Any], latest_ready: str, *, clock: Clock
) -> None:
    """``RoutesReady`` stays ``Unknown`` until the Route's latest-revision targets point at
    the Configuration's latest ready Revision.

    As Knative's, only checked while the Route is Ready: a Route that is not (a missing
    Revision, a Revision that failed) keeps its own reason and message in the Service.
    """
    targets = route_status.get("traffic")
    if not latest_ready or not isinstance(targets, list):
        return
    route_ready = SERVICE_CONDITIONS.get(route_status, "Ready")
    if route_ready is None or route_ready.status != "True":
        return
    if any(
        isinstance(t, Mapping) and t.get("latestRevision") and t.get("revisionName") != latest_ready
        for t in targets
    ):
        SERVICE_CONDITIONS.mark_unknown(
            status,
            ROUTES_READY,
            "TrafficNotMigrated",
            "Traffic is not yet migrated to the latest revision.",
            clock=clock,
        )


def _propagate(status: dict[str, Any], type_: str, other: Mapping[str, Any], clock: Clock) -> None:
    ready: Condition | None = SERVICE_CONDITIONS.get(other, "Ready")
    SERVICE_CONDITIONS.propagate(
        status,
        type_,
        ready,
        reason_if_missing="Initializing",
        message_if_missing="Not reconciled yet.",
        clock=clock,
    )
