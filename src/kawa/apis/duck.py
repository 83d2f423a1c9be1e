"""Duck types shared by many kinds: ``Destination`` and ``DeliverySpec`` (Knative's duck/v1).

* :class:`Destination` -- ``{ref: {apiVersion, kind, name, namespace?}, uri}``: at least one of
  ``ref`` and ``uri``; ``uri`` alone must be absolute (scheme and host); with a ``ref`` it must
  be relative (it is resolved against the ref's address); ``ref`` needs ``apiVersion``,
  ``kind`` and ``name``; ``ref.namespace`` defaults to the parent object's namespace.
* :class:`DeliverySpec` -- ``retry`` (integer >= 0), ``backoffPolicy`` (linear | exponential),
  ``backoffDelay``, ``timeout`` (> 0) and ``retryAfterMax`` (ISO 8601 durations, kept as float
  seconds), ``deadLetterSink`` (a Destination) and ``format`` (json | binary).
  :data:`BROKER_DEFAULT_DELIVERY` is what a broker uses when nothing is configured.
* The ``DeadLetterSinkResolved`` status helpers shared by Brokers and Triggers.

Readers here append :class:`~kawa.errors.FieldError` entries to a list (``read_*``) so a kind
can report all its problems at once; ``parse_*`` raise :class:`~kawa.errors.ValidationError`.
Called by the kinds (:mod:`kawa.apis.eventing`), by :mod:`kawa.delivery` (retry policy) and by
reconcilers resolving addressables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from kawa.apis import duration, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.errors import FieldError, ValidationError

BackoffPolicy = Literal["linear", "exponential"]
DeliveryFormat = Literal["json", "binary"]

BACKOFF_POLICIES: Final[tuple[BackoffPolicy, ...]] = ("linear", "exponential")
DELIVERY_FORMATS: Final[tuple[DeliveryFormat, ...]] = ("json", "binary")


@dataclass(frozen=True, slots=True)
class KReference:
    """A reference to another object (``ref`` of a Destination, a Broker's ``spec.config``)."""

    api_version: str
    kind: str
    name: str
    namespace: str

    def to_dict(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
        }


@dataclass(frozen=True, slots=True)
class Destination:
    """Where to send events: a ``ref`` to an addressable, a ``uri``, or a ref plus relative uri."""

    ref: KReference | None = None
    uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ref is not None:
            out["ref"] = self.ref.to_dict()
        if self.uri is not None:
            out["uri"] = self.uri
        return out


@dataclass(frozen=True, slots=True)
class DeliverySpec:
    """A validated ``delivery`` block; durations in seconds, ``None`` where not set."""

    retry: int | None = None
    backoff_policy: BackoffPolicy | None = None
    backoff_delay: float | None = None
    timeout: float | None = None
    retry_after_max: float | None = None
    dead_letter_sink: Destination | None = None
    format: DeliveryFormat | None = None


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


def read_reference(
    value: Any, path: str, errors: list[FieldError], *, namespace: str
) -> KReference | None:
    """A ``{apiVersion, kind, name, namespace?}`` mapping; namespace defaults to ``namespace``."""
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(value)}"))
        return None
    before = len(errors)
    api_version = meta.read_str(
        value, "apiVersion", meta.join(path, "apiVersion"), errors, required=True
    )
    kind = meta.read_str(value, "kind", meta.join(path, "kind"), errors, required=True)
    name = meta.read_str(value, "name", meta.join(path, "name"), errors, required=True)
    ref_namespace = meta.read_str(value, "namespace", meta.join(path, "namespace"), errors)
    if ref_namespace is not None:
        errors.extend(
            FieldError(meta.join(path, "namespace"), f"invalid value {ref_namespace!r}: {p}")
            for p in meta.dns1123_label_errors(ref_namespace)
        )
    if len(errors) > before or api_version is None or kind is None or name is None:
        return None
    return KReference(api_version, kind, name, ref_namespace or namespace)


def read_destination(
    value: Any, path: str, errors: list[FieldError], *, namespace: str
) -> Destination | None:
    """A Destination at ``path``; problems are appended to ``errors`` (then ``None``)."""
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(value)}"))
        return None
    before = len(errors)
    raw_ref = value.get("ref")
    uri = meta.read_str(value, "uri", meta.join(path, "uri"), errors)
    ref = None
    if raw_ref is not None:
        ref = read_reference(raw_ref, meta.join(path, "ref"), errors, namespace=namespace)
    if raw_ref is None and uri is None:
        if len(errors) == before:
            errors.append(FieldError(path, "expected at least one of ref or uri, got neither"))
    elif uri is not None and raw_ref is None and not is_absolute_url(uri):
        errors.append(
            FieldError(
                meta.join(path, "uri"),
                f"must be an absolute URL (scheme and host) when there is no ref, got {uri!r}",
            )
        )
    elif uri is not None and raw_ref is not None and is_absolute_url(uri):
        errors.append(
            FieldError(
                meta.join(path, "uri"),
                f"an absolute URI is not allowed together with ref, got {uri!r}; use a relative "
                "URI (resolved against the ref's address) or drop ref",
            )
        )
    if len(errors) > before:
        return None
    return Destination(ref, uri)


def parse_destination(value: Any, *, namespace: str, path: str = "") -> Destination:
    """A validated Destination; raises :class:`ValidationError` listing every problem."""
    errors: list[FieldError] = []
    destination = read_destination(value, path, errors, namespace=namespace)
    if errors or destination is None:
        raise ValidationError(errors or [FieldError(path, "invalid destination")])
    return destination


def _read_duration(
    spec: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(
            FieldError(
                meta.join(path, key), f"expected {duration.EXPECTED}, got {meta.type_name(value)}"
            )
        )
        return None
    try:
        return duration.parse_duration(value, path=meta.join(path, key))
    except ValidationError as exc:
        errors.extend(exc.errors)
        return None


def read_delivery(
    value: Any, path: str, errors: list[FieldError], *, namespace: str
) -> DeliverySpec | None:
    """A ``delivery`` block at ``path``; problems are appended to ``errors`` (then ``None``)."""
    if not isinstance(value, Mapping):
        errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(value)}"))
        return None
    before = len(errors)
    retry = value.get("retry")
    if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int) or retry < 0):
        errors.append(
            FieldError(meta.join(path, "retry"), f"must be an integer >= 0, got {retry!r}")
        )
    policy = value.get("backoffPolicy")
    if policy is not None and policy not in BACKOFF_POLICIES:
        errors.append(
            FieldError(
                meta.join(path, "backoffPolicy"),
                f"must be one of linear, exponential, got {policy!r}",
            )
        )
    backoff_delay = _read_duration(value, "backoffDelay", path, errors)
    timeout = _read_duration(value, "timeout", path, errors)
    if timeout is not None and timeout <= 0:
        errors.append(
            FieldError(meta.join(path, "timeout"), "must be a duration greater than zero")
        )
    retry_after_max = _read_duration(value, "retryAfterMax", path, errors)
    dead_letter_sink = None
    if value.get("deadLetterSink") is not None:
        dead_letter_sink = read_destination(
            value["deadLetterSink"], meta.join(path, "deadLetterSink"), errors, namespace=namespace
        )
    delivery_format = value.get("format")
    if delivery_format is not None and delivery_format not in DELIVERY_FORMATS:
        errors.append(
            FieldError(
                meta.join(path, "format"), f"must be one of json, binary, got {delivery_format!r}"
            )
        )
    if len(errors) > before:
        return None
    return DeliverySpec(
        retry=retry,
        backoff_policy=policy,
        backoff_delay=backoff_delay,
        timeout=timeout,
        retry_after_max=retry_after_max,
        dead_letter_sink=dead_letter_sink,
        format=delivery_format,
    )


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
    if isinstance(value, dict):
        ref = value.get("ref")
        if isinstance(ref, dict) and not ref.get("namespace"):
            ref["namespace"] = namespace


def default_delivery(value: Any, namespace: str) -> None:
    """Fill in the dead-letter sink's ``ref.namespace`` of a delivery dict in place."""
    if isinstance(value, dict):
        default_destination(value.get("deadLetterSink"), namespace)


# -- status: the dead-letter sink, shared by Brokers and Triggers -----------------------------

DEAD_LETTER_SINK_RESOLVED: Final = "DeadLetterSinkResolved"


def mark_dead_letter_sink_resolved(
    conditions: ConditionSet, status: dict[str, Any], uri: str, *, clock: Clock
) -> None:
    """Record the dead-letter sink's resolved URL in ``status.deadLetterSinkUri``."""
    status["deadLetterSinkUri"] = uri
    conditions.mark_true(status, DEAD_LETTER_SINK_RESOLVED, clock=clock)


def mark_dead_letter_sink_not_configured(
    conditions: ConditionSet, status: dict[str, Any], *, clock: Clock
) -> None:
    """No dead-letter sink: the condition is True with reason ``DeadLetterSinkNotConfigured``."""
    status.pop("deadLetterSinkUri", None)
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
    conditions.mark_false(status, DEAD_LETTER_SINK_RESOLVED, reason, message, clock=clock)
