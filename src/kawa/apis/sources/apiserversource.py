"""The ApiServerSource kind (sources.knative.dev/v1, and the 2019 sources.eventing.knative.dev/
v1alpha1): events for changes of Kubernetes objects.

v1: ``resources[]`` (``apiVersion``, ``kind``, ``selector``), ``mode`` (``Reference``, the
default, or ``Resource``), ``owner`` (``{apiVersion, kind}``), ``serviceAccountName``
(default ``default``), ``namespaceSelector``, ``sink``, ``ceOverrides``. The 2019 form
(:data:`API_VERSION_V1ALPHA1`) has a flat ``sink`` ObjectReference, ``mode: Ref`` and
``resources[].labelSelector``/``controller``; :func:`convert_apiserversource` translates both
ways (what one version cannot hold is kept in an annotation). Conditions ``SinkProvided``,
``Deployed``, ``SufficientPermissions`` behind ``Ready``. Declared in
:data:`kawa.apis.sources.KINDS`; read by the API-server-source adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from kawa.apis import duck, kn_common, kn_schema, meta
from kawa.apis.conditions import ConditionSet
from kawa.errors import FieldError, ValidationError

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = "sources.knative.dev/v1"
API_VERSION_V1ALPHA1: Final = "sources.eventing.knative.dev/v1alpha1"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1ALPHA1)
KIND: Final = "ApiServerSource"

Mode = Literal["Reference", "Resource"]
MODES: Final[tuple[Mode, ...]] = ("Reference", "Resource")
DEFAULT_SERVICE_ACCOUNT: Final = "default"
_SPEC_FIELDS: Final = (
    "resources",
    "owner",
    "mode",
    "serviceAccountName",
    "namespaceSelector",
    "sink",
    "ceOverrides",
)

DEPLOYED: Final = "Deployed"
SUFFICIENT_PERMISSIONS: Final = "SufficientPermissions"
APISERVERSOURCE_CONDITIONS: Final = ConditionSet(
    (kn_common.SINK_PROVIDED, DEPLOYED, SUFFICIENT_PERMISSIONS)
)


@dataclass(frozen=True, slots=True)
class APIVersionKindSelector:
    """Objects of one kind, optionally narrowed by labels."""

    api_version: str
    kind: str
    selector: kn_common.LabelSelector | None


@dataclass(frozen=True, slots=True)
class ApiServerSource:
    namespace: str
    name: str
    uid: str
    generation: int
    resources: tuple[APIVersionKindSelector, ...]
    owner: tuple[str, str] | None
    """``(apiVersion, kind)`` an object's owner must have, or ``None``."""
    mode: Mode
    service_account_name: str
    namespace_selector: kn_common.LabelSelector | None
    sink: duck.Destination
    ce_overrides: dict[str, str] | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _default_v1(obj: Mapping[str, Any]) -> meta.Object:
    out = kn_common.deep_copy(obj)
    spec = out.get("spec")
    if isinstance(spec, dict):
        if not spec.get("mode"):
            spec["mode"] = "Reference"
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
        kn_common.default_sink(spec, meta.namespace_of(out))
    return out


def parse_apiserversource(obj: Mapping[str, Any]) -> ApiServerSource:
    """Validate an ApiServerSource of either version (read as v1); return its typed view."""
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1:
        obj = convert_apiserversource(obj, API_VERSION)
    obj = _default_v1(obj)
    errors: list[FieldError] = []
    kn_common.check_header(obj, (API_VERSION,), KIND, errors)
    who = kn_common.identity(obj)
    spec = kn_common.read_spec(obj, _SPEC_FIELDS, errors, required=True)
    resources: list[APIVersionKindSelector] = []
    raw_list = kn_common.read_list(spec, "resources", "spec.resources", errors, required=True)
    for i, raw in enumerate(raw_list):
        path = f"spec.resources[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(raw)}"))
            continue
        kn_common.unknown_fields(raw, ("apiVersion", "kind", "selector"), path, errors)
        api_version = meta.read_str(raw, "apiVersion", f"{path}.apiVersion", errors, required=True)
        if api_version is not None and api_version.count("/") > 1:
            errors.append(
                FieldError(f"{path}.apiVersion", f"expected group/version, got {api_version!r}")
            )
        kind = meta.read_str(raw, "kind", f"{path}.kind", errors, required=True)
        selector = kn_common.read_label_selector(raw.get("selector"), f"{path}.selector", errors)
        if api_version is not None and kind is not None:
            resources.append(APIVersionKindSelector(api_version, kind, selector))
    owner = None
    raw_owner = meta.read_mapping(spec, "owner", "spec.owner", errors)
    if raw_owner is not None:
        kn_common.unknown_fields(raw_owner, ("apiVersion", "kind"), "spec.owner", errors)
        owner_version = meta.read_str(
            raw_owner, "apiVersion", "spec.owner.apiVersion", errors, required=True
        )
        owner_kind = meta.read_str(raw_owner, "kind", "spec.owner.kind", errors, required=True)
        if owner_version is not None and owner_kind is not None:
            owner = (owner_version, owner_kind)
    mode = spec.get("mode")
    if mode not in MODES:
        errors.append(FieldError("spec.mode", f"must be one of Reference, Resource, got {mode!r}"))
    account = meta.read_str(spec, "serviceAccountName", "spec.serviceAccountName", errors)
    if account is not None:
        errors.extend(
            FieldError("spec.serviceAccountName", f"invalid value {account!r}: {p}")
            for p in meta.dns1123_subdomain_errors(account)
        )
    namespaces = kn_common.read_label_selector(
        spec.get("namespaceSelector"), "spec.namespaceSelector", errors
    )
    sink = kn_common.read_sink(spec, "spec.sink", errors, namespace=who.namespace)
    overrides = kn_common.read_ce_overrides(spec.get("ceOverrides"), "spec.ceOverrides", errors)
    kn_common.raise_if_errors(errors, KIND, obj)
    if sink is None or mode not in MODES:
        raise ValidationError.single("spec", "invalid", subject=meta.subject_of(KIND, obj))
    return ApiServerSource(
        who.namespace,
        who.name,
        who.uid,
        who.generation,
        tuple(resources),
        owner,
        "Resource" if mode == "Resource" else "Reference",
        account or DEFAULT_SERVICE_ACCOUNT,
        namespaces,
        sink,
        overrides,
    )


def validate_apiserversource(obj: Mapping[str, Any]) -> None:
    parse_apiserversource(obj)


def validate_apiserversource_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Every field of an ApiServerSource may change."""


# -- conversion: the 2019 v1alpha1 ---------------------------------------------------------

_MODE_UP: Final = {"Ref": "Reference", "Resource": "Resource"}
_MODE_DOWN: Final = {"Reference": "Ref", "Resource": "Resource"}
_V1_ONLY: Final = ("owner", "namespaceSelector", "ceOverrides")


def convert_apiserversource(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` as ``api_version``: v1 <-> sources.eventing.knative.dev/v1alpha1.

    Flat ``sink {apiVersion, kind, name}`` <-> ``sink.ref``; ``mode: Ref`` <-> ``Reference``;
    ``resources[].labelSelector`` <-> ``selector``; ``resources[].controller`` and v1's
    ``owner``, ``namespaceSelector``, ``ceOverrides`` are kept in annotations across versions.
    """
    if api_version not in API_VERSIONS:
        raise kn_common.convert_unsupported(KIND, api_version, API_VERSIONS)
    out = kn_common.deep_copy(obj)
    source_version = out.get("apiVersion")
    out["apiVersion"] = api_version
    spec = out.get("spec")
    if source_version == api_version or not isinstance(spec, dict):
        return out
    if api_version == API_VERSION:
        _up(out, spec)
    else:
        _down(out, spec)
    return out


def _up(out: meta.Object, spec: dict[str, Any]) -> None:
    """v1alpha1 -> v1 (in place)."""
    spec.update(kn_common.unstash(out, "v1"))
    sink = spec.get("sink")
    if isinstance(sink, Mapping) and "ref" not in sink and "uri" not in sink:
        spec["sink"] = {"ref": dict(sink)}
    mode = spec.get("mode")
    if isinstance(mode, str) and mode in _MODE_UP:
        spec["mode"] = _MODE_UP[mode]
    lost: dict[str, Any] = {}
    resources = spec.get("resources")
    if isinstance(resources, list):
        controllers: dict[str, Any] = {}
        for i, item in enumerate(resources):
            if not isinstance(item, dict):
                continue
            if "labelSelector" in item:
                item["selector"] = item.pop("labelSelector")
            if "controller" in item:
                controllers[str(i)] = item.pop("controller")
            selector = item.pop("controllerSelector", None)
            if isinstance(selector, Mapping) and "owner" not in spec:
                spec["owner"] = {k: selector[k] for k in ("apiVersion", "kind") if k in selector}
                lost["ownerFrom"] = i
        if controllers:
            lost["controller"] = controllers
    kn_common.stash(out, "v1alpha1", lost)


def _down(out: meta.Object, spec: dict[str, Any]) -> None:
    """v1 -> v1alpha1 (in place)."""
    kept = kn_common.unstash(out, "v1alpha1")
    sink = spec.get("sink")
    if isinstance(sink, Mapping) and set(sink) == {"ref"} and isinstance(sink["ref"], Mapping):
        spec["sink"] = dict(sink["ref"])
    mode = spec.get("mode")
    if isinstance(mode, str) and mode in _MODE_DOWN:
        spec["mode"] = _MODE_DOWN[mode]
    owner_from = kept.get("ownerFrom")
    resources = spec.get("resources")
    if isinstance(resources, list):
        controllers = kept.get("controller") or {}
        for i, item in enumerate(resources):
            if not isinstance(item, dict):
                continue
            if "selector" in item:
                item["labelSelector"] = item.pop("selector")
            if str(i) in controllers:
                item["controller"] = controllers[str(i)]
            if owner_from == i and isinstance(spec.get("owner"), Mapping):
                item["controllerSelector"] = spec.pop("owner")
    lost: dict[str, Any] = {key: spec.pop(key) for key in _V1_ONLY if key in spec}
    kn_common.stash(out, "v1", lost)


_RESOURCE: Final = kn_schema.obj(
    "A kind of object to watch.",
    {
        "apiVersion": kn_schema.string("The API version (group/version) of the kind."),
        "kind": kn_schema.string("The kind."),
        "selector": kn_schema.label_selector("Only objects with these labels."),
    },
    required=("apiVersion", "kind"),
)

SCHEMA: Final = kn_schema.kind_schema(
    kn_schema.obj(
        "Sends an event for each change of the watched Kubernetes objects.",
        {
            "resources": kn_schema.array("The kinds of objects to watch.", _RESOURCE),
            "owner": kn_schema.obj(
                "Only objects owned by an object of this kind.",
                {
                    "apiVersion": kn_schema.string("The owner's API version."),
                    "kind": kn_schema.string("The owner's kind."),
                },
            ),
            "mode": kn_schema.string(
                "Reference: the event's data is a reference to the object; Resource: the "
                "whole object.",
                enum=MODES,
            ),
            "serviceAccountName": kn_schema.string(
                "The service account whose permissions the watch uses (default: default)."
            ),
            "namespaceSelector": kn_schema.label_selector(
                "Watch the namespaces with these labels (default: the source's namespace)."
            ),
            "sink": kn_schema.destination("Where the events are sent."),
            "ceOverrides": kn_schema.ce_overrides(),
        },
        required=("resources", "sink"),
    ),
    kn_schema.source_status(
        "The state of the ApiServerSource.",
        {"namespaces": kn_schema.array("The namespaces watched.", kn_schema.string("A name."))},
    ),
)


def default_apiserversource(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with Knative's defaults (mode Reference, service account ``default``, sink
    namespace), in the object's own version."""
    return _DEFAULT(obj)


_DEFAULT: Final = kn_common.via_storage(convert_apiserversource, API_VERSION, _default_v1)
