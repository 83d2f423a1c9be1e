"""The Broker kind (eventing.knative.dev/v1): typed view, defaults, validation, status.

A Broker is stored and served as a plain dict. :func:`parse_broker` validates one (after
applying :func:`default_broker` to a copy) and returns the typed :class:`Broker`;
:func:`validate_broker_update` enforces Knative's immutability rules (the class annotation and
``spec.config``); the ``*_CONDITIONS`` set and the ``set_broker_address`` helper maintain its
status. Registered in :mod:`kawa.apis.registry`; read by the broker reconciler and the data
plane.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.errors import FieldError, ValidationError

GROUP: Final = "eventing.knative.dev"
API_VERSION: Final = "eventing.knative.dev/v1"
API_VERSION_V1ALPHA1: Final = "eventing.knative.dev/v1alpha1"
API_VERSIONS: Final = (API_VERSION, API_VERSION_V1ALPHA1)
KIND: Final = "Broker"

BROKER_CLASS_ANNOTATION: Final = "eventing.knative.dev/broker.class"
DEFAULT_BROKER_CLASS: Final = "MTChannelBasedBroker"
"""Knative's default class; kawa's own data plane serves Brokers of every class."""

_CLASS_PATH: Final = f"metadata.annotations[{BROKER_CLASS_ANNOTATION}]"
_SPEC_FIELDS: Final = ("config", "delivery")

# Condition types (Knative's names).
INGRESS_READY: Final = "IngressReady"
FILTER_READY: Final = "FilterReady"
ADDRESSABLE: Final = "Addressable"
DEAD_LETTER_SINK_RESOLVED: Final = duck.DEAD_LETTER_SINK_RESOLVED

BROKER_CONDITIONS: Final = ConditionSet(
    (INGRESS_READY, FILTER_READY, ADDRESSABLE, DEAD_LETTER_SINK_RESOLVED)
)
"""``Ready`` of a Broker: ingress and filter running, an address, the dead-letter sink resolved."""


@dataclass(frozen=True, slots=True)
class Broker:
    """A validated Broker. ``annotations`` is a copy; treat it as read-only."""

    api_version: str
    namespace: str
    name: str
    uid: str
    generation: int
    broker_class: str
    config: duck.KReference | None
    delivery: duck.DeliverySpec | None
    annotations: dict[str, str]

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


def default_broker(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with Knative's defaults: the class annotation, ref namespaces."""
    out: meta.Object = copy.deepcopy(dict(obj))
    metadata = out.get("metadata")
    if not isinstance(metadata, dict):
        return out
    annotations = metadata.get("annotations")
    if annotations is None:
        annotations = metadata["annotations"] = {}
    if isinstance(annotations, dict) and not annotations.get(BROKER_CLASS_ANNOTATION):
        annotations[BROKER_CLASS_ANNOTATION] = DEFAULT_BROKER_CLASS
    spec = out.get("spec")
    if isinstance(spec, dict):
        namespace = meta.namespace_of(out)
        config = spec.get("config")
        if isinstance(config, dict) and not config.get("namespace"):
            config["namespace"] = namespace
        duck.default_delivery(spec.get("delivery"), namespace)
    return out


def parse_broker(obj: Mapping[str, Any]) -> Broker:
    """Validate a Broker dict (defaults applied to a copy first) and return its typed view.

    Raises :class:`ValidationError` (subject ``"Broker <namespace>/<name>"``) listing every
    problem with its field path. A v1alpha1 Broker is converted to v1 first.
    """
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1:
        _check_v1alpha1(obj)
        obj = convert_broker(obj, API_VERSION)
    obj = default_broker(obj)
    errors: list[FieldError] = []
    if obj.get("apiVersion") != API_VERSION:
        errors.append(
            FieldError("apiVersion", f"expected {API_VERSION}, got {obj.get('apiVersion')!r}")
        )
    if obj.get("kind") != KIND:
        errors.append(FieldError("kind", f"expected {KIND}, got {obj.get('kind')!r}"))
    errors.extend(meta.validate_metadata(obj.get("metadata")))
    namespace = meta.namespace_of(obj)
    broker_class = meta.annotations_of(obj).get(BROKER_CLASS_ANNOTATION, "")
    if not broker_class:
        errors.append(FieldError(_CLASS_PATH, "required annotation is missing"))
    config = delivery = None
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        errors.append(FieldError("spec", f"expected a mapping, got {meta.type_name(spec)}"))
    elif spec is not None:
        errors.extend(
            FieldError(f"spec.{key}", f"unknown field; expected one of {', '.join(_SPEC_FIELDS)}")
            for key in spec
            if key not in _SPEC_FIELDS
        )
        if spec.get("config") is not None:
            config = duck.read_reference(spec["config"], "spec.config", errors, namespace=namespace)
        if spec.get("delivery") is not None:
            delivery = duck.read_delivery(
                spec["delivery"], "spec.delivery", errors, namespace=namespace
            )
    if errors:
        raise ValidationError(errors, subject=meta.subject_of(KIND, obj))
    metadata = meta.metadata_of(obj)
    generation = metadata.get("generation")
    return Broker(
        api_version=API_VERSION,
        namespace=namespace,
        name=str(metadata["name"]),
        uid=str(metadata.get("uid") or ""),
        generation=generation if isinstance(generation, int) else 0,
        broker_class=broker_class,
        config=config,
        delivery=delivery,
        annotations=meta.annotations_of(obj),
    )


def validate_broker(obj: Mapping[str, Any]) -> None:
    """Raise :class:`ValidationError` when ``obj`` (with defaults applied) is not a valid Broker."""
    parse_broker(obj)


def validate_broker_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Knative's immutability rules: the class annotation and ``spec.config`` never change.

    Only immutability is checked here; validate ``new`` itself with :func:`validate_broker`.
    """
    old_d, new_d = default_broker(old), default_broker(new)
    errors: list[FieldError] = []
    old_class = meta.annotations_of(old_d).get(BROKER_CLASS_ANNOTATION)
    new_class = meta.annotations_of(new_d).get(BROKER_CLASS_ANNOTATION)
    if old_class != new_class:
        errors.append(
            FieldError(
                _CLASS_PATH,
                f"immutable field changed from {old_class!r} to {new_class!r}; "
                "delete and recreate the Broker to change its class",
            )
        )
    old_config, new_config = _spec_field(old_d, "config"), _spec_field(new_d, "config")
    if old_config != new_config:
        errors.append(
            FieldError(
                "spec.config",
                f"immutable field changed from {old_config!r} to {new_config!r}",
            )
        )
    if errors:
        raise ValidationError(errors, subject=meta.subject_of(KIND, new))


def _spec_field(obj: Mapping[str, Any], key: str) -> Any:
    spec = obj.get("spec")
    return spec.get(key) if isinstance(spec, Mapping) else None


# -- conversion: the 2019 v1alpha1 Broker ---------------------------------------------------

_V1ALPHA1_ONLY: Final = ("channelTemplateSpec", "channelTemplate")
"""v1alpha1 spec fields v1 has no place for (the channel is the class's business in v1)."""


def convert_broker(obj: Mapping[str, Any], api_version: str) -> meta.Object:
    """``obj`` as ``api_version`` (v1 or v1alpha1).

    v1alpha1's ``spec.channelTemplateSpec`` (or the older ``spec.channelTemplate``) has no v1
    field, and v1's ``spec.config`` none in v1alpha1: each is kept in an annotation
    ``conversion.kawa.dev/<version>`` and restored when converting back, so a round trip is
    lossless. ``spec.delivery`` exists in both.
    """
    if api_version not in API_VERSIONS:
        raise kn_common.convert_unsupported(KIND, api_version, API_VERSIONS)
    out = kn_common.deep_copy(obj)
    source_version = out.get("apiVersion")
    out["apiVersion"] = api_version
    if source_version == api_version:
        return out
    spec = out.get("spec")
    spec = dict(spec) if isinstance(spec, Mapping) else {}
    drop = _V1ALPHA1_ONLY if api_version == API_VERSION else ("config",)
    lost = {key: spec.pop(key) for key in drop if key in spec}
    spec.update(kn_common.unstash(out, api_version.rpartition("/")[2]))
    kn_common.stash(out, str(source_version).rpartition("/")[2], lost)
    if spec or "spec" in out:
        out["spec"] = spec
    return out


def _check_v1alpha1(obj: Mapping[str, Any]) -> None:
    errors: list[FieldError] = []
    spec = obj.get("spec")
    if isinstance(spec, Mapping):
        for key in _V1ALPHA1_ONLY:
            template = spec.get(key)
            if template is None:
                continue
            path = f"spec.{key}"
            if not isinstance(template, Mapping):
                errors.append(
                    FieldError(path, f"expected a mapping, got {meta.type_name(template)}")
                )
                continue
            if key == "channelTemplateSpec":
                meta.read_str(template, "apiVersion", f"{path}.apiVersion", errors, required=True)
                meta.read_str(template, "kind", f"{path}.kind", errors, required=True)
    kn_common.raise_if_errors(errors, KIND, obj)


# -- status ----------------------------------------------------------------------------------


def set_broker_address(status: dict[str, Any], url: str | None, *, clock: Clock) -> None:
    """Publish the Broker's ingress URL in ``status.address.url`` and mark it Addressable.

    ``None`` removes the address and marks ``Addressable`` False.
    """
    if url:
        status["address"] = {"url": url}
        BROKER_CONDITIONS.mark_true(status, ADDRESSABLE, clock=clock)
    else:
        status.pop("address", None)
        BROKER_CONDITIONS.mark_false(
            status, ADDRESSABLE, "NoAddress", "The broker has no address yet.", clock=clock
        )
