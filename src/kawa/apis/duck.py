"""Duck types shared by many kinds: ``Destination`` and ``DeliverySpec`` (Knative's duck/v1).

* :class:`Destination` -- ``{ref: {apiVersion, kind, name, namespace?}, uri}``: at least one of
  ``ref`` and ``uri``; ``uri`` alone must be absolute (scheme and host); with a ``ref`` it must
  be relative (it is resolved against the ref's address); ``ref`` needs ``apiVersion``,
  ``kind`` and ``name``; ``ref.namespace`` defaults to the parent object's namespace;
  ``CACerts``, when set, must be PEM certificates (:mod:`kawa.apis.cacerts`).
* :class:`DeliverySpec` -- ``retry`` (integer >= 0), ``backoffPolicy`` (linear | exponential),
  ``backoffDelay``, ``timeout`` (> 0) and ``retryAfterMax`` (ISO 8601 durations, kept as float
  seconds), ``deadLetterSink`` (a Destination) and ``format`` (json | binary).
  :data:`BROKER_DEFAULT_DELIVERY` is what a broker uses when nothing is configured.
* :class:`SourceSpec` -- what every source declares (Knative's duck/v1 ``SourceSpec``): a
  required ``sink`` Destination and ``ceOverrides`` (:class:`CloudEventOverrides`: extension
  attributes, lower-case alphanumeric names of at most 20 characters); :class:`SourceStatus`
  is what every source reports (``sinkUri``, ``ceAttributes``).
* The ``DeadLetterSinkResolved`` status helpers shared by Brokers and Triggers.

Readers here append :class:`~kawa.errors.FieldError` entries to a list (``read_*``) so a kind
can report all its problems at once; ``parse_*`` raise :class:`~kawa.errors.ValidationError`.
Called by the kinds (:mod:`kawa.apis.eventing`, :mod:`kawa.apis.sources` ...), by
:mod:`kawa.delivery` (retry policy) and by reconcilers resolving addressables.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from kawa.apis import cacerts, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.model.base import Context, Model, doc
from kawa.apis.model.defaults import apply_defaults
from kawa.apis.model.parse import validate
from kawa.apis.model.types import DateTime, IsoDuration, PositiveDuration, StringMap, Text
from kawa.errors import FieldError, ValidationError

BackoffPolicy = Literal["linear", "exponential"]
DeliveryFormat = Literal["json", "binary"]

BACKOFF_POLICIES: Final[tuple[BackoffPolicy, ...]] = ("linear", "exponential")
DELIVERY_FORMATS: Final[tuple[DeliveryFormat, ...]] = ("json", "binary")


class KReference(Model):
    """A reference to another object: apiVersion, kind, name and namespace."""

    api_version: Annotated[Text, doc("API version of the referenced object (group/version).")]
    kind: Annotated[Text, doc("Kind of the referenced object.")]
    name: Annotated[Text, doc("Name of the referenced object.")]
    namespace: Annotated[
        str,
        doc(
            "Namespace of the referenced object; defaults to the namespace of the object "
            "holding the reference."
        ),
    ] = ""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.namespace:
            for problem in meta.dns1123_label_errors(self.namespace):
                yield FieldError("namespace", f"invalid value {self.namespace!r}: {problem}")

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        if not data.get("namespace"):
            data["namespace"] = ctx.namespace

    def to_dict(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
        }


class Destination(Model):
    """Where events go: an addressable object (ref), a URL (uri), or a URL relative to the
    object's address (both)."""

    ref: Annotated[
        KReference | None, doc("An addressable object; events go to its status.address.url.")
    ] = None
    uri: Annotated[
        str | None,
        doc("An absolute URL, or a URL relative to the address of ref when ref is set."),
    ] = None
    audience: Annotated[
        str | None,
        doc(
            "The OIDC audience of the destination (authentication-oidc): overrides the one "
            "the object of ref publishes."
        ),
    ] = None
    ca_certs: Annotated[
        str | None,
        Field(
            alias="CACerts",
            description=(
                "PEM certificates the destination's https certificate verifies against "
                "(with the trust bundles): overrides the ones the object of ref publishes."
            ),
        ),
    ] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.ca_certs is not None:
            wrong = cacerts.problem(self.ca_certs)
            if wrong is not None:
                yield FieldError("CACerts", wrong)
        if self.ref is None and not self.uri:
            yield FieldError("", "expected at least one of ref or uri, got neither")
        elif self.uri and self.ref is None and not is_absolute_url(self.uri):
            yield FieldError(
                "uri",
                f"must be an absolute URL (scheme and host) when there is no ref, got {self.uri!r}",
            )
        elif self.uri and self.ref is not None and is_absolute_url(self.uri):
            yield FieldError(
                "uri",
                f"an absolute URI is not allowed together with ref, got {self.uri!r}; use a "
                "relative URI (resolved against the ref's address) or drop ref",
            )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ref is not None:
            out["ref"] = self.ref.to_dict()
        if self.uri is not None:
            out["uri"] = self.uri
        if self.ca_certs is not None:
            out["CACerts"] = self.ca_certs
        return out


class DeliverySpec(Model):
    """How events are delivered: retries and dead letters."""

    retry: Annotated[int | None, doc("Retries after the first attempt.", ge=0)] = None
    backoff_policy: Annotated[BackoffPolicy | None, doc("How the wait between retries grows.")] = (
        None
    )
    backoff_delay: Annotated[
        IsoDuration | None, doc("The base wait between retries (ISO 8601 duration).")
    ] = None
    timeout: Annotated[
        PositiveDuration | None, doc("The time allowed for each attempt (ISO 8601 duration).")
    ] = None
    retry_after_max: Annotated[
        IsoDuration | None, doc("The longest Retry-After header honoured (ISO 8601 duration).")
    ] = None
    dead_letter_sink: Annotated[
        Destination | None, doc("Where events go when every attempt failed.")
    ] = None
    format: Annotated[DeliveryFormat | None, doc("The CloudEvents encoding used.")] = None


_EXTENSION_NAME: Final = re.compile(r"[a-z0-9]+")
EXTENSION_NAME_MAX: Final = 20


def _extension_name(name: str) -> str:
    if not _EXTENSION_NAME.fullmatch(name):
        raise ValueError(
            "invalid extension name: expected lower-case letters a-z and digits 0-9 only "
            "(CloudEvents attribute naming)"
        )
    if len(name) > EXTENSION_NAME_MAX:
        raise ValueError(f"invalid extension name: at most {EXTENSION_NAME_MAX} characters")
    return name


ExtensionName = Annotated[str, AfterValidator(_extension_name)]
"""A CloudEvents extension attribute's name: lower-case alphanumeric, at most 20 characters."""


class CloudEventOverrides(Model):
    """Changes applied to every event the source sends."""

    extensions: Annotated[
        dict[ExtensionName, str],
        doc("Extension attributes added to every event (lower-case alphanumeric names)."),
    ] = {}


class SourceSpec(Model):
    """What every source declares: where its events go and what it changes in them (the
    specs of the source kinds derive from it)."""

    sink: Annotated[Destination, doc("Where the events are sent.")]
    ce_overrides: Annotated[
        CloudEventOverrides | None, doc("Changes applied to every event the source sends.")
    ] = None

    @property
    def extensions(self) -> dict[str, str] | None:
        """The extension attributes of ``ceOverrides`` (``None`` when it is absent)."""
        return None if self.ce_overrides is None else dict(self.ce_overrides.extensions)


BROKER_DEFAULT_DELIVERY: Final = DeliverySpec(
    retry=10, backoff_policy="exponential", backoff_delay=0.2
)
"""A broker's delivery when neither it nor the trigger configures one (Knative's
``config-br-defaults``: retry 10, exponential, ``PT0.2S``)."""


def is_absolute_url(uri: str) -> bool:
    """Whether ``uri`` has a scheme and a host (Knative's test for a stand-alone ``uri``)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.hostname)


# -- embedded values: defaults applied to a copy, then the model's validation -----------------

M = TypeVar("M", bound=Model)


def read(
    model: type[M], value: Any, path: str, errors: list[FieldError], *, namespace: str
) -> M | None:
    """``value`` (a dict of ``model``) defaulted for ``namespace`` and validated; problems
    are appended to ``errors`` at ``path`` (then ``None``)."""
    if isinstance(value, Mapping):
        value = copy.deepcopy(dict(value))
        apply_defaults(model, value, Context(namespace=namespace))
    return validate(model, value, errors, ctx=Context(namespace=namespace), path=path)


def read_destination(
    value: Any, path: str, errors: list[FieldError], *, namespace: str
) -> Destination | None:
    """A Destination at ``path``; problems are appended to ``errors`` (then ``None``)."""
    return read(Destination, value, path, errors, namespace=namespace)


def parse_destination(value: Any, *, namespace: str, path: str = "") -> Destination:
    """A validated Destination; raises :class:`ValidationError` listing every problem."""
    errors: list[FieldError] = []
    destination = read_destination(value, path, errors, namespace=namespace)
    if errors or destination is None:
        raise ValidationError(errors or [FieldError(path, "invalid destination")])
    return destination


def read_delivery(
    value: Any, path: str, errors: list[FieldError], *, namespace: str
) -> DeliverySpec | None:
    """A ``delivery`` block at ``path``; problems are appended to ``errors`` (then ``None``)."""
    return read(DeliverySpec, value, path, errors, namespace=namespace)


def parse_delivery(value: Any, *, namespace: str, path: str = "") -> DeliverySpec:
    """A validated DeliverySpec; raises :class:`ValidationError` listing every problem."""
    errors: list[FieldError] = []
    spec = read_delivery(value, path, errors, namespace=namespace)
    if errors or spec is None:
        raise ValidationError(errors or [FieldError(path, "invalid delivery")])
    return spec


# -- defaulting (on dicts) --------------------------------------------------------------------


def default_destination(value: Any, namespace: str) -> None:
    """Fill in ``ref.namespace`` of a Destination dict in place (Knative's SetDefaults)."""
    apply_defaults(Destination, value, Context(namespace=namespace))


def default_delivery(value: Any, namespace: str) -> None:
    """Fill in the dead-letter sink's ``ref.namespace`` of a delivery dict in place."""
    apply_defaults(DeliverySpec, value, Context(namespace=namespace))


# -- status --------------------------------------------------------------------------------


class Condition(Model):
    """A condition of the object's state."""

    type: Annotated[str, doc("The condition's type (Ready, ...).")]
    status: Annotated[str, doc("True, False or Unknown.")]
    reason: Annotated[str | None, doc("A one-word reason for the last transition.")] = None
    message: Annotated[str | None, doc("A human readable explanation.")] = None
    severity: Annotated[str | None, doc("Error (empty) or Info.")] = None
    last_transition_time: Annotated[DateTime | None, doc("When the status last changed.")] = None


class Status(Model):
    """A Knative status: conditions, the generation acted on, annotations."""

    observed_generation: Annotated[
        int | None, doc("The generation last acted on by the controller.")
    ] = None
    conditions: Annotated[
        list[Condition] | None, doc("The latest observations of the object's state.")
    ] = None
    annotations: Annotated[
        StringMap | None, doc("Extra status information set by the controller.")
    ] = None


class Addressable(Model):
    """Where the object receives events."""

    name: Annotated[str | None, doc("The address's name.")] = None
    url: Annotated[str | None, doc("The URL events are sent to.")] = None
    audience: Annotated[
        str | None, doc("The OIDC audience a sender's token must name (authentication-oidc).")
    ] = None
    ca_certs: Annotated[
        str | None,
        Field(
            alias="CACerts",
            description="PEM certificates an https URL's certificate verifies against.",
        ),
    ] = None


class AuthStatus(Model):
    """The identity the object's sender presents (authentication-oidc)."""

    service_account_name: Annotated[
        str | None, doc("The ServiceAccount whose OIDC token the sender presents.")
    ] = None


class AppliedEventPolicyRef(Model):
    """An EventPolicy that applies to the object (authentication-oidc)."""

    api_version: Annotated[str, doc("API version of the EventPolicy.")]
    name: Annotated[str, doc("Name of the EventPolicy.")]


EVENT_POLICIES_READY: Final = "EventPoliciesReady"
"""Knative's condition of a receiver: every EventPolicy that applies to it is Ready."""


class CloudEventAttributes(Model):
    """Type and source of one kind of event."""

    type: Annotated[str | None, doc("The event type.")] = None
    source: Annotated[str | None, doc("The event source.")] = None


class SourceStatus(Status):
    """The observed state of the source."""

    sink_uri: Annotated[str | None, doc("The resolved URL of the sink.")] = None
    sink_audience: Annotated[
        str | None, doc("The OIDC audience of the sink (authentication-oidc).")
    ] = None
    sink_ca_certs: Annotated[
        str | None,
        Field(
            alias="sinkCACerts",
            description="PEM certificates the sink's https address verifies against.",
        ),
    ] = None
    auth: Annotated[AuthStatus | None, doc("The identity the source's events are sent as.")] = None
    ce_attributes: Annotated[
        list[CloudEventAttributes] | None, doc("The attributes of the events the source sends.")
    ] = None


ADDRESSABLE: Final = "Addressable"


def set_address(
    conditions: ConditionSet,
    status: dict[str, Any],
    url: str | None,
    *,
    what: str,
    clock: Clock,
    audience: str | None = None,
    addresses: list[dict[str, Any]] | None = None,
) -> None:
    """Publish ``status.address.url`` (and ``audience``, the OIDC audience, when given) and
    mark ``Addressable``; without a URL the address is removed and ``Addressable`` is False
    ("The <what> has no address yet."). With ``addresses`` (transport-encryption permissive
    or strict, :func:`kawa.apis.features.addresses`) ``status.addresses`` lists them and
    ``status.address`` is their first."""
    if url and addresses:
        status["address"] = dict(addresses[0])
        status["addresses"] = [dict(a) for a in addresses]
        conditions.mark_true(status, ADDRESSABLE, clock=clock)
        return
    status.pop("addresses", None)
    if url:
        status["address"] = {"url": url, **({"audience": audience} if audience else {})}
        conditions.mark_true(status, ADDRESSABLE, clock=clock)
    else:
        status.pop("address", None)
        conditions.mark_false(
            status, ADDRESSABLE, "NoAddress", f"The {what} has no address yet.", clock=clock
        )


def published_address(
    status: Mapping[str, Any] | None,
) -> tuple[str | None, str | None, list[dict[str, Any]] | None]:
    """``(url, audience, addresses)`` of what an addressable publishes in its ``status``
    (``None`` for what it does not): what an object whose address is another's copies (a
    Channel its backing channel's, a flow its first channel's), as :func:`set_address` takes
    them."""
    address = status.get("address") if isinstance(status, Mapping) else None
    if not isinstance(address, Mapping):
        return None, None, None
    url, audience = address.get("url"), address.get("audience")
    listed = status.get("addresses") if isinstance(status, Mapping) else None
    addresses = (
        [dict(a) for a in listed if isinstance(a, Mapping)] if isinstance(listed, list) else None
    )
    return (
        url if isinstance(url, str) and url else None,
        audience if isinstance(audience, str) and audience else None,
        addresses or None,
    )


# -- status: the dead-letter sink, shared by Brokers and Triggers -----------------------------

DEAD_LETTER_SINK_RESOLVED: Final = "DeadLetterSinkResolved"


def mark_dead_letter_sink_resolved(
    conditions: ConditionSet,
    status: dict[str, Any],
    uri: str,
    *,
    clock: Clock,
    audience: str | None = None,
    ca_certs: str | None = None,
) -> None:
    """Record the dead-letter sink's resolved URL in ``status.deadLetterSinkUri`` (and its
    OIDC audience in ``status.deadLetterSinkAudience``, its ``CACerts`` in
    ``status.deadLetterSinkCACerts``, when it has them)."""
    status["deadLetterSinkUri"] = uri
    for key, value in (
        ("deadLetterSinkAudience", audience),
        ("deadLetterSinkCACerts", ca_certs),
    ):
        if value:
            status[key] = value
        else:
            status.pop(key, None)
    conditions.mark_true(status, DEAD_LETTER_SINK_RESOLVED, clock=clock)


def mark_dead_letter_sink_not_configured(
    conditions: ConditionSet, status: dict[str, Any], *, clock: Clock
) -> None:
    """No dead-letter sink: the condition is True with reason ``DeadLetterSinkNotConfigured``."""
    status.pop("deadLetterSinkUri", None)
    status.pop("deadLetterSinkAudience", None)
    status.pop("deadLetterSinkCACerts", None)
    conditions.mark_true(
        status,
        DEAD_LETTER_SINK_RESOLVED,
        "DeadLetterSinkNotConfigured",
        "No dead letter sink is configured.",
        clock=clock,
    )


def mark_dead_letter_sink_failed(
    conditions: ConditionSet, status: dict[str, Any], reason: str, message: str, *, clock: Clock
) -> None:
    """The dead-letter sink is configured but cannot be resolved."""
    status.pop("deadLetterSinkUri", None)
    status.pop("deadLetterSinkAudience", None)
    status.pop("deadLetterSinkCACerts", None)
    conditions.mark_false(status, DEAD_LETTER_SINK_RESOLVED, reason, message, clock=clock)


# -- status: the OIDC identity of a sender (Triggers, Subscriptions, sources) ------------------

OIDC_IDENTITY_CREATED: Final = "OIDCIdentityCreated"
OIDC_DISABLED: Final = "authentication-oidc feature disabled"


def mark_oidc_identity(
    conditions: ConditionSet, status: dict[str, Any], service_account: str | None, *, clock: Clock
) -> None:
    """``OIDCIdentityCreated``: True with the ServiceAccount in ``status.auth`` (OIDC on), or
    True with reason "authentication-oidc feature disabled" and no ``auth`` (off), as
    Knative's."""
    if service_account is None:
        status.pop("auth", None)
        conditions.mark_true(status, OIDC_IDENTITY_CREATED, OIDC_DISABLED, clock=clock)
        return
    status["auth"] = {"serviceAccountName": service_account}
    conditions.mark_true(status, OIDC_IDENTITY_CREATED, clock=clock)


def mark_oidc_identity_failed(
    conditions: ConditionSet, status: dict[str, Any], message: str, *, clock: Clock
) -> None:
    """The sender's ServiceAccount could not be made: ``OIDCIdentityCreated`` False."""
    status.pop("auth", None)
    reason = "Unable to resolve service account for OIDC authentication"
    conditions.mark_false(status, OIDC_IDENTITY_CREATED, reason, message, clock=clock)
