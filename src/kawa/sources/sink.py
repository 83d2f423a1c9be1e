"""The sink of a source: resolving it, reporting it in status, and sending events to it.

Every source kind (PingSource, ApiServerSource, ContainerSource ...) has a ``spec.sink``
Destination and reports it the same way: ``status.sinkUri`` and the ``SinkProvided``
condition. Its adapter stamps ``spec.ceOverrides.extensions`` on each event and POSTs it to the
sink. The source reconcilers and adapters of :mod:`kawa.sources` call:

- :func:`resolve_sink`: ``spec.sink`` -> URL, or :class:`~kawa.reconciler.resolver.Unresolvable`
  (reason ``NotFound``, ``NotAddressable`` ... plus ``InvalidSink`` when the spec is wrong);
  with ``track``, the object the sink names is tracked (its change reconciles the source).
- :func:`set_sink_status`: ``status.sinkUri`` and ``SinkProvided`` from that outcome, and from
  the last delivery when it failed (reason :data:`UNREACHABLE`: Knative does not probe sinks,
  kawa reports a sink that refuses its events, see ``docs/sources-ping.md``).
- :func:`apply_overrides`: ``ceOverrides`` as extension attributes. As in the CloudEvents Go
  SDK (``SetExtension``), a name that is a CloudEvents context attribute (``id``, ``type``,
  ``source`` ...) is not an extension and is ignored.
- :class:`SinkSender`: one event to the sink with a small retry policy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import duck, kn_common, meta
from kawa.apis.conditions import Clock, ConditionSet
from kawa.cloudevents.event import OPTIONAL_V03, OPTIONAL_V1, REQUIRED, CloudEvent
from kawa.delivery.policy import RetryPolicy, should_retry
from kawa.delivery.sender import DeliveryResult, Dispatcher, Identity, Sleep
from kawa.errors import FieldError
from kawa.reconciler.features import FeatureFlags
from kawa.reconciler.oidc_accounts import reconcile_identity
from kawa.reconciler.resolver import Address, Unresolvable, resolve_address
from kawa.reconciler.status import Reconciling
from kawa.reconciler.tracker import Track
from kawa.store.base import ResourceStore

log = logging.getLogger(__name__)

SINK_PROVIDED: Final = kn_common.SINK_PROVIDED
INVALID_SINK: Final = "InvalidSink"
"""Reason of ``SinkProvided=False`` when ``spec.sink`` itself is malformed."""
UNREACHABLE: Final = "Unreachable"
"""Reason of ``SinkProvided=False`` when the sink resolved but the last event sent failed."""

SINK_RETRY_POLICY: Final = RetryPolicy(
    retry=2, backoff_policy="exponential", backoff_delay=0.2, timeout=30.0
)
"""3 attempts, waiting 0.4 s then 0.8 s; 30 s per attempt."""

_CONTEXT_ATTRIBUTES: Final = frozenset((*REQUIRED, *OPTIONAL_V1, *OPTIONAL_V03))


def _sink_destination(obj: Mapping[str, Any]) -> duck.Destination:
    namespace = meta.namespace_of(obj)
    spec = obj.get("spec")
    raw = spec.get("sink") if isinstance(spec, Mapping) else None
    if raw is None:
        raise Unresolvable(INVALID_SINK, "spec.sink: required field is missing")
    if isinstance(raw, Mapping) and "ref" not in raw and "uri" not in raw and "kind" in raw:
        # The 2019 v1alpha1 flat sink (an ObjectReference); admission converts it, but an
        # object written straight to the store may still carry it.
        raw = {"ref": dict(raw)}
    errors: list[FieldError] = []
    destination = duck.read_destination(raw, "spec.sink", errors, namespace=namespace)
    if errors or destination is None:
        message = "; ".join(str(e) for e in errors) or "spec.sink: invalid destination"
        raise Unresolvable(INVALID_SINK, message)
    return destination


async def resolve_sink(
    store: ResourceStore, obj: Mapping[str, Any], *, track: Track | None = None
) -> str:
    """The URL of a source's ``spec.sink``; raises :class:`Unresolvable` saying why not.
    ``track`` records the object the sink refers to."""
    return (await resolve_sink_address(store, obj, track=track)).url


async def resolve_sink_address(
    store: ResourceStore, obj: Mapping[str, Any], *, track: Track | None = None
) -> Address:
    """:func:`resolve_sink` with the sink's OIDC audience (authentication-oidc)."""
    return await resolve_address(store, _sink_destination(obj), track=track)


def sender_identity(obj: Mapping[str, Any]) -> Identity | None:
    """Who a source's events are sent as: its ``status.auth.serviceAccountName`` (set by its
    reconciler with authentication-oidc on), or ``None``."""
    status = obj.get("status")
    auth = status.get("auth") if isinstance(status, Mapping) else None
    name = auth.get("serviceAccountName") if isinstance(auth, Mapping) else None
    if not isinstance(name, str) or not name:
        return None
    return Identity(meta.namespace_of(obj), name)


def _conditions_of(status: Mapping[str, Any]) -> ConditionSet:
    """The dependents already reported in ``status`` (after ``ConditionSet.initialize``),
    with ``SinkProvided`` among them."""
    types: list[str] = []
    for item in status.get("conditions") or []:
        if isinstance(item, Mapping):
            type_ = item.get("type")
            if isinstance(type_, str) and type_ != "Ready" and type_ not in types:
                types.append(type_)
    if SINK_PROVIDED not in types:
        types.insert(0, SINK_PROVIDED)
    return ConditionSet(tuple(types))


def set_sink_status(
    status: dict[str, Any],
    url: str | None,
    err: Unresolvable | None,
    clock: Clock,
    *,
    conditions: ConditionSet | None = None,
    delivery: DeliveryResult | None = None,
    audience: str | None = None,
    ca_certs: str | None = None,
) -> None:
    """Record a resolution outcome in ``status``: ``sinkUri`` (and ``sinkAudience``, the
    sink's OIDC audience, and ``sinkCACerts``, the certificates its https address verifies
    against, when it has them) and ``SinkProvided``.

    ``url`` set: ``sinkUri`` and ``SinkProvided=True``, unless ``delivery`` (the last send to
    the sink) failed: then ``SinkProvided=False`` reason :data:`UNREACHABLE`, ``sinkUri`` kept.
    ``err`` set: ``SinkProvided=False`` with its reason and message, ``sinkUri`` removed.
    ``Ready`` is recomputed with ``conditions`` (the kind's set); without it, with the
    conditions already in ``status`` (call ``conditions.initialize`` first, as reconcilers do).
    """
    conditions = conditions if conditions is not None else _conditions_of(status)
    if url and err is None and audience:
        status["sinkAudience"] = audience
    else:
        status.pop("sinkAudience", None)
    if url and err is None and ca_certs:
        status["sinkCACerts"] = ca_certs
    else:
        status.pop("sinkCACerts", None)
    if url and err is None:
        if delivery is not None and not delivery.ok:
            status["sinkUri"] = url
            conditions.mark_false(
                status,
                SINK_PROVIDED,
                UNREACHABLE,
                f"the last event sent to {url} failed after {delivery.attempts} attempt(s): "
                f"{describe_failure(delivery)}",
                clock=clock,
            )
            return
        kn_common.mark_sink(conditions, status, url, clock=clock)
    elif err is not None:
        kn_common.mark_no_sink(conditions, status, err.reason, err.message, clock=clock)
    else:
        kn_common.mark_sink(conditions, status, None, clock=clock)


def describe_failure(result: DeliveryResult) -> str:
    """A failed delivery in a few words: the HTTP status, or the connection error."""
    if result.status is None:
        return result.error or "no response"
    detail = result.error if result.error and not result.error.startswith("HTTP ") else ""
    return f"HTTP {result.status}" + (f" ({detail})" if detail else "")


def _extensions(ce_overrides: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = ce_overrides.get("extensions")
    if isinstance(inner, Mapping):
        return inner  # the spec's form: {"extensions": {...}}
    return ce_overrides  # already the extensions (a source spec's ``extensions``)


def apply_overrides(event: CloudEvent, ce_overrides: Mapping[str, Any] | None) -> CloudEvent:
    """``event`` with ``ceOverrides`` extensions set as attributes.

    Accepts the spec's ``{"extensions": {...}}`` or the extensions mapping itself. Names of
    CloudEvents context attributes are ignored (an override never changes ``id``, ``type`` ...).
    """
    if not ce_overrides:
        return event
    changes: dict[str, str] = {}
    for name, value in _extensions(ce_overrides).items():
        if not isinstance(name, str) or name in _CONTEXT_ATTRIBUTES or value is None:
            continue
        changes[name] = str(value)
    return event.with_attributes(changes) if changes else event


class SinkSender:
    """Sends source events to sinks through the process's shared :class:`Dispatcher`.

    Any 2xx answer delivers the event: a source asks for no reply, so a sink answering with a
    body that is not a CloudEvent has still taken the event. (``Dispatcher.send`` expects
    replies, so the attempts are made here one by one, each a single-attempt send.)
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        policy: RetryPolicy = SINK_RETRY_POLICY,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._dispatcher = dispatcher
        self._policy = policy
        self._single = RetryPolicy(retry=0, timeout=policy.timeout)
        self._sleep = sleep

    async def send(
        self,
        event: CloudEvent,
        url: str,
        *,
        identity: Identity | None = None,
        audience: str | None = None,
        ca_certs: str | None = None,
    ) -> DeliveryResult:
        """POST ``event`` to ``url`` (binary mode), retrying per the policy; failures are
        logged (warning) and returned, never raised. With an ``identity`` and the sink's
        ``audience`` (authentication-oidc) the request carries the identity's token; an https
        sink is verified against its ``ca_certs`` too (and what every sender trusts)."""
        n = 0
        while True:
            n += 1
            result = await self._dispatcher.send(
                event,
                url,
                policy=self._single,
                identity=identity,
                audience=audience,
                ca_certs=ca_certs,
            )
            if result.status is not None and 200 <= result.status < 300:
                return DeliveryResult(True, result.status, n, None, result.response_body)
            if n >= self._policy.attempts or not should_retry(result.status):
                break
            await self._sleep(self._policy.delay_before_retry(n, result.status, None))
        failed = DeliveryResult(False, result.status, n, None, result.response_body, result.error)
        log.warning(
            "event %s (%s from %s) to %s failed after %d attempt(s): %s",
            event.id,
            event.type,
            event.source,
            url,
            n,
            describe_failure(failed),
        )
        return failed


# -- what the in-process sources (PingSource, the timer IntegrationSource) share ----------


@dataclass(frozen=True, slots=True)
class LastDelivery:
    """How the last event of a source went, and where it was sent."""

    url: str
    result: DeliveryResult


class Deliveries:
    """The last delivery of each source (``(namespace, name)``), for its ``SinkProvided``;
    ``on_change`` is told when one's outcome (its URL, success or failure) changes."""

    def __init__(self, on_change: Callable[[str, str], None] | None = None) -> None:
        self.on_change = on_change
        self._last: dict[tuple[str, str], LastDelivery] = {}

    def last(self, namespace: str, name: str) -> LastDelivery | None:
        """How the last event of the source went (``None``: none sent since kawa started)."""
        return self._last.get((namespace, name))

    def record(self, key: tuple[str, str], delivery: LastDelivery) -> None:
        before = self._last.get(key)
        self._last[key] = delivery
        changed = before is None or (before.url, before.result.ok) != (
            delivery.url,
            delivery.result.ok,
        )
        if changed and self.on_change is not None:
            self.on_change(*key)

    def forget(self, key: tuple[str, str]) -> None:
        self._last.pop(key, None)


async def reconcile_sender(
    store: ResourceStore,
    flags: FeatureFlags,
    conditions: ConditionSet,
    current: Reconciling[Any],
    last: LastDelivery | None,
    *,
    api_version: str,
    kind: str,
    clock: Clock,
) -> None:
    """What a source that sends its events itself reports: its sink resolved
    (``status.sinkUri``, ``sinkAudience``, ``sinkCACerts``, ``SinkProvided``, the ``last``
    delivery to that sink counting) and, with authentication-oidc on, its own identity."""
    try:
        address = await resolve_sink_address(store, current.obj, track=current.track)
    except Unresolvable as err:
        set_sink_status(current.status, None, err, clock, conditions=conditions)
    else:
        delivery = last.result if last is not None and last.url == address.url else None
        set_sink_status(
            current.status,
            address.url,
            None,
            clock,
            conditions=conditions,
            delivery=delivery,
            audience=address.audience,
            ca_certs=address.ca_certs,
        )
    await reconcile_identity(
        store, flags, conditions, current, api_version=api_version, kind=kind, clock=clock
    )
