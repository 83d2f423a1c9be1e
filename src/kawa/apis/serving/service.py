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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import kn_common, kn_schema, meta
from kawa.apis.conditions import Clock, Condition, ConditionSet
from kawa.apis.serving import configuration, revision, traffic
from kawa.errors import FieldError, ValidationError

API_VERSION: Final = revision.API_VERSION
API_VERSION_V1ALPHA1: Final = "serving.knative.dev/v1alpha1"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1ALPHA1)
KIND: Final = "Service"
_SPEC_FIELDS: Final = ("template", "traffic")
_LEGACY_SHAPES: Final = ("runLatest", "pinned", "release", "manual")

CONFIGURATIONS_READY: Final = "ConfigurationsReady"
ROUTES_READY: Final = "RoutesReady"
SERVICE_CONDITIONS: Final = ConditionSet((CONFIGURATIONS_READY, ROUTES_READY))


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    uid: str
    generation: int
    template: revision.RevisionSpec
    template_name: str
    traffic: tuple[traffic.TrafficTarget, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _default_v1(obj: Mapping[str, Any]) -> meta.Object:
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        revision.default_template(spec)
        if not spec.get("traffic"):
            spec["traffic"] = [{"latestRevision": True, "percent": 100}]
        traffic.default_traffic(spec["traffic"])
    return out


def parse_service(obj: Mapping[str, Any]) -> Service:
    """Validate a Service of either version (read as v1) and return its typed view."""
    kn_common.raise_if_errors(check_v1alpha1_shape(obj), KIND, obj)
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1:
        obj = convert_service(obj, API_VERSION)
    obj = _default_v1(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    template = revision.read_template(spec, errors, parent=who.name) if spec else None
    targets = traffic.read_traffic(spec, errors, in_service=True)
    kn_common.raise_if_errors(errors, KIND, obj)
    if template is None:
        raise ValidationError.single("spec.template", "required field is missing")
    return Service(
        who.namespace,
        who.name,
        who.uid,
        who.generation,
        template,
        configuration.template_name(spec),
        targets,
    )


def validate_service(obj: Mapping[str, Any]) -> None:
    parse_service(obj)


def validate_service_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A named template must be renamed when its content changes (as for Configurations)."""
    configuration.validate_template_update(
        convert_service(old, API_VERSION), convert_service(new, API_VERSION), KIND
    )


# -- conversion ------------------------------------------------------------------------------


def convert_service(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` as ``api_version``. From v1alpha1, ``runLatest`` and ``pinned`` become
    ``template`` (+ ``traffic``); to v1alpha1, the spec keeps the template shape."""
    if api_version not in API_VERSIONS:
        raise kn_common.convert_unsupported(KIND, api_version, API_VERSIONS)
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


def default_service(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with Knative's defaults (container name, timeout, 100% to the latest revision),
    in the object's own version."""
    errors = check_v1alpha1_shape(obj)
    kn_common.raise_if_errors(errors, KIND, obj)
    return _DEFAULT(obj)


_DEFAULT: Final = kn_common.via_storage(convert_service, API_VERSION, _default_v1)


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


SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "A serverless workload: a revision template and how traffic reaches revisions.",
        {
            "template": revision.template_schema(),
            "traffic": traffic.traffic_schema(
                "How requests are split (default: all to the latest revision).", in_service=True
            ),
        },
        required=("template",),
    ),
    kn_schema.status(
        "The state of the Service.",
        {
            "url": kn_schema.string("The public URL."),
            "address": kn_schema.address("The cluster-local address."),
            "latestCreatedRevisionName": kn_schema.string("The newest revision created."),
            "latestReadyRevisionName": kn_schema.string("The newest ready revision."),
            "traffic": traffic.traffic_schema("The traffic as assigned.", in_service=True),
        },
    ),
)
