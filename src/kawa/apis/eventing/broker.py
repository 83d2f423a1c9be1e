"""The Broker kind (eventing.knative.dev/v1, and the 2019 v1alpha1), declared once.

:class:`BrokerSpec` and :class:`Broker` are the declaration (ADR 0014): the class annotation
defaulted and required, ``spec.config`` and the class immutable (Knative's rules), the
schema; the parsed :class:`Broker` is the typed view. :func:`parse_broker` converts a
v1alpha1 Broker first (its own rules checked on the way). The ``*_CONDITIONS`` set and
:func:`set_broker_address` maintain its status. Declared in :mod:`kawa.apis.eventing`; read
by the broker reconciler and the data plane.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, kn_common, meta, retention
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.model.base import Context, Immutable, Model, doc
from kawa.apis.model.objects import KubeObject, default_object, parse_object, update_errors
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

# Condition types (Knative's names).
INGRESS_READY: Final = "IngressReady"
FILTER_READY: Final = "FilterReady"
TRIGGER_CHANNEL_READY: Final = "TriggerChannelReady"
"""Knative's condition of the broker's channel; in kawa: the ``spec.config`` it names exists."""
ADDRESSABLE: Final = duck.ADDRESSABLE
DEAD_LETTER_SINK_RESOLVED: Final = duck.DEAD_LETTER_SINK_RESOLVED

EVENT_POLICIES_READY: Final = duck.EVENT_POLICIES_READY

BROKER_CONDITIONS: Final = ConditionSet(
    (
        INGRESS_READY,
        TRIGGER_CHANNEL_READY,
        FILTER_READY,
        ADDRESSABLE,
        DEAD_LETTER_SINK_RESOLVED,
        EVENT_POLICIES_READY,
    )
)
"""``Ready`` of a Broker: ingress and filter running, its config found, an address, the
dead-letter sink resolved, every EventPolicy that applies to it Ready."""
CHANNEL_TEMPLATE_FAILED: Final = "ChannelTemplateFailed"
"""Knative's reason when the ConfigMap a Broker's ``spec.config`` names cannot be read."""


class BrokerSpec(Model):
    """The desired state of the Broker."""

    config: Annotated[
        duck.KReference | None,
        doc("Configuration of the broker's implementation."),
        Immutable(),
    ] = None
    delivery: Annotated[
        duck.DeliverySpec | None, doc("The default delivery of the broker's triggers.")
    ] = None


class Broker(KubeObject):
    """A Broker receives events and delivers them to the subscribers of its Triggers."""

    spec: Annotated[BrokerSpec, doc("The desired state of the Broker.")] = BrokerSpec()

    @property
    def broker_class(self) -> str:
        """The ``eventing.knative.dev/broker.class`` annotation."""
        return self.annotations.get(BROKER_CLASS_ANNOTATION, "")

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """The class annotation defaults to Knative's default class."""
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            return
        annotations = metadata.get("annotations")
        if annotations is None:
            annotations = metadata["annotations"] = {}
        if isinstance(annotations, dict) and not annotations.get(BROKER_CLASS_ANNOTATION):
            annotations[BROKER_CLASS_ANNOTATION] = DEFAULT_BROKER_CLASS

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if not self.broker_class:
            yield FieldError(_CLASS_PATH, "required annotation is missing")
        yield from retention.retention_errors(self.annotations)

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        old_class = meta.annotations_of(old).get(BROKER_CLASS_ANNOTATION)
        new_class = meta.annotations_of(new).get(BROKER_CLASS_ANNOTATION)
        if old_class != new_class:
            yield FieldError(
                _CLASS_PATH,
                f"immutable field changed from {old_class!r} to {new_class!r}; "
                "delete and recreate the Broker to change its class",
            )


class BrokerStatus(duck.Status):
    """The observed state of the Broker."""

    address: Annotated[
        duck.Addressable | None, doc("Where the broker receives events (its ingress).")
    ] = None
    addresses: Annotated[
        list[duck.Addressable] | None,
        doc("Every address (http and https, by transport-encryption)."),
    ] = None
    dead_letter_sink_uri: Annotated[
        str | None, doc("The resolved URL of the dead-letter sink.")
    ] = None
    dead_letter_sink_audience: Annotated[
        str | None, doc("The OIDC audience of the dead-letter sink (authentication-oidc).")
    ] = None
    dead_letter_sink_ca_certs: Annotated[
        str | None,
        doc(
            "The PEM certificates the dead-letter sink's https certificate verifies against.",
            alias="deadLetterSinkCACerts",
        ),
    ] = None
    policies: Annotated[
        list[duck.AppliedEventPolicyRef] | None,
        doc("The Ready EventPolicies that apply to the broker (authentication-oidc)."),
    ] = None


def default_broker(obj: Mapping[str, Any]) -> meta.Object:
    """A copy of ``obj`` with Knative's defaults: the class annotation, ref namespaces."""
    return default_object(Broker, obj, namespaced=True)


def parse_broker(obj: Mapping[str, Any]) -> Broker:
    """Validate a Broker dict (defaults applied to a copy first) and return it typed.

    Raises :class:`ValidationError` (subject ``"Broker <namespace>/<name>"``) listing every
    problem with its field path. A v1alpha1 Broker is converted to v1 first.
    """
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1:
        obj = convert_broker(obj, API_VERSION)
    return parse_object(Broker, obj, kind=KIND, api_versions=API_VERSIONS, namespaced=True)


def validate_broker(obj: Mapping[str, Any]) -> None:
    """Raise :class:`ValidationError` when ``obj`` (with defaults applied) is not a valid Broker."""
    parse_broker(obj)


def validate_broker_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Knative's immutability rules: the class annotation and ``spec.config`` never change.

    Only immutability is checked here; validate ``new`` itself with :func:`validate_broker`.
    """
    errors = update_errors(Broker, default_broker(old), default_broker(new))
    if errors:
        raise ValidationError(errors, subject=meta.subject_of(KIND, new))


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
    if obj.get("apiVersion") == API_VERSION_V1ALPHA1 and api_version != API_VERSION_V1ALPHA1:
        _check_v1alpha1(obj)
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


def set_broker_address(
    status: dict[str, Any],
    url: str | None,
    *,
    clock: Clock,
    audience: str | None = None,
    addresses: list[dict[str, Any]] | None = None,
) -> None:
    """Publish the Broker's ingress URL in ``status.address.url`` (with its OIDC
    ``audience`` when given) and mark it Addressable.

    ``None`` removes the address and marks ``Addressable`` False.
    """
    duck.set_address(
        BROKER_CONDITIONS,
        status,
        url,
        what="broker",
        clock=clock,
        audience=audience,
        addresses=addresses,
    )
