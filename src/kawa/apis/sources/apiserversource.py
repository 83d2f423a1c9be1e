"""The ApiServerSource kind (sources.knative.dev/v1, and the 2019 sources.eventing.knative.dev/
v1alpha1): events for changes of Kubernetes objects.

v1 (the models here): ``resources[]`` (``apiVersion``, ``kind``, ``selector``, a
:class:`~kawa.apis.label_selector.LabelSelector`), ``mode`` (``Reference``, the default, or
``Resource``), ``owner`` (``{apiVersion, kind}``), ``serviceAccountName`` (default
``default``), ``namespaceSelector``, plus the ``sink`` and ``ceOverrides`` of every source
(:class:`~kawa.apis.duck.SourceSpec`). The 2019 form (:data:`API_VERSION_V1ALPHA1`) has a flat
``sink`` ObjectReference, ``mode: Ref`` and ``resources[].labelSelector``/``controller``;
:func:`convert_apiserversource` translates both ways (what one version cannot hold is kept in
an annotation) and objects are parsed as v1. Conditions ``SinkProvided``, ``Deployed``,
``SufficientPermissions`` behind ``Ready``; ``status.namespaces``. Declared in
:data:`kawa.apis.sources.KINDS`; read by the ApiServerSource reconciler
(:mod:`kawa.sources.apiserver`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator

from kawa.apis import duck, kn_common, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.label_selector import LabelSelector
from kawa.apis.model.base import STORED, Model, doc
from kawa.apis.model.objects import KubeObject, default_object, parse_object
from kawa.apis.model.types import DnsSubdomain, Text

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = "sources.knative.dev/v1"
API_VERSION_V1ALPHA1: Final = "sources.eventing.knative.dev/v1alpha1"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1ALPHA1)
KIND: Final = "ApiServerSource"

Mode = Literal["Reference", "Resource"]
MODES: Final[tuple[Mode, ...]] = ("Reference", "Resource")
DEFAULT_SERVICE_ACCOUNT: Final = "default"

DEPLOYED: Final = "Deployed"
SUFFICIENT_PERMISSIONS: Final = "SufficientPermissions"
APISERVERSOURCE_CONDITIONS: Final = ConditionSet(
    (kn_common.SINK_PROVIDED, DEPLOYED, SUFFICIENT_PERMISSIONS, duck.OIDC_IDENTITY_CREATED)
)


def _group_version(api_version: str) -> str:
    if api_version.count("/") > 1:
        raise ValueError(f"expected group/version, got {api_version!r}")
    return api_version


class APIVersionKindSelector(Model):
    """A kind of object to watch."""

    api_version: Annotated[
        Text, AfterValidator(_group_version), doc("The API version (group/version) of the kind.")
    ]
    kind: Annotated[Text, doc("The kind.")]
    selector: Annotated[LabelSelector | None, doc("Only objects with these labels.")] = None


class APIVersionKind(Model):
    """Only objects owned by an object of this kind."""

    api_version: Annotated[Text, doc("The owner's API version.")]
    kind: Annotated[Text, doc("The owner's kind.")]


class ApiServerSourceSpec(duck.SourceSpec):
    """Sends an event for each change of the watched Kubernetes objects."""

    resources: Annotated[
        list[APIVersionKindSelector], doc("The kinds of objects to watch.", min_length=1)
    ]
    owner: Annotated[
        APIVersionKind | None, doc("Only objects owned by an object of this kind.")
    ] = None
    mode: Annotated[
        Mode,
        doc(
            "Reference: the event's data is a reference to the object; Resource: the whole object."
        ),
        STORED,
    ] = "Reference"
    service_account_name: Annotated[
        DnsSubdomain,
        doc("The service account whose permissions the watch uses (default: default)."),
        STORED,
    ] = DEFAULT_SERVICE_ACCOUNT
    namespace_selector: Annotated[
        LabelSelector | None,
        doc("Watch the namespaces with these labels (default: the source's namespace)."),
    ] = None

    @property
    def owner_filter(self) -> tuple[str, str] | None:
        """``(apiVersion, kind)`` an object's owner must have, or ``None``."""
        return None if self.owner is None else (self.owner.api_version, self.owner.kind)


class ApiServerSource(KubeObject):
    """An ApiServerSource sends an event to its sink for each change of the Kubernetes
    objects it watches."""

    spec: Annotated[
        ApiServerSourceSpec,
        doc("Sends an event for each change of the watched Kubernetes objects."),
    ]


class ApiServerSourceStatus(duck.SourceStatus):
    """The observed state of the ApiServerSource."""

    namespaces: Annotated[list[str] | None, doc("The namespaces watched.")] = None


def default_apiserversource(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of a v1 ApiServerSource with Knative's defaults (mode ``Reference``, service
    account ``default``, the sink's namespace)."""
    return default_object(ApiServerSource, obj, namespaced=True)


def parse_apiserversource(obj: Mapping[str, Any]) -> ApiServerSource:
    """Validate an ApiServerSource of either version (converted to v1, defaults applied to a
    copy) and return its typed view; raises :class:`~kawa.errors.ValidationError`."""
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1:
        obj = convert_apiserversource(obj, API_VERSION)
    return parse_object(ApiServerSource, obj, kind=KIND, api_versions=API_VERSIONS, namespaced=True)


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
