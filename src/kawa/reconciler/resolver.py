"""Addressable resolution: turn a Destination (``ref``, ``uri``, or both) into a URL.

A ``ref`` resolves to the target's ``status.address.url`` (a Broker, and any kind that
publishes an address); a core/v1 Service, which publishes none, to kawa's path form of it,
``<SERVICES_URL>/<namespace>/<name>`` (:mod:`kawa.serving.services` routes it), or, where
kawa's URL is not set, Knative's ``http://<name>.<namespace>.svc.cluster.local``. ``ref``
plus a relative ``uri`` resolves the uri against that URL; a
``uri`` alone is used as it is (admission already checked that it is absolute). When a target
cannot be resolved, :class:`Unresolvable` says why, with a reason a condition can carry.
With ``track`` (see :mod:`.tracker`), the target is recorded before it is looked up, found or
not, so that its creation or change reconciles the caller again. :func:`resolve_dead_letter_sink`
resolves a delivery's dead-letter sink into ``status.deadLetterSinkUri`` (and
``deadLetterSinkAudience``) and its ``DeadLetterSinkResolved`` condition (Brokers, Triggers,
channels). A target listing an https address in ``status.addresses`` (transport-encryption
permissive or strict) resolves to it. :func:`resolve_address` gives the OIDC audience with
the URL: the Destination's ``audience``, else the target's; and the ``CACerts`` an https URL
verifies against: the Destination's, else the ones the target's address publishes (a target
publishing certificates that are not PEM is :class:`Unresolvable`, reason ``InvalidCACerts``).
Called by the reconcilers.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urljoin

from kawa.apis import cacerts, duck
from kawa.apis.conditions import Clock, ConditionSet
from kawa.apis.duck import Destination
from kawa.apis.registry import SCHEME, Scheme
from kawa.errors import KawaError, NotFoundError, ValidationError
from kawa.reconciler.tracker import Track
from kawa.store.base import ResourceKey, ResourceStore

SERVICES_URL: Final[ContextVar[str]] = ContextVar("kawa_services_url", default="")
"""Where kawa serves core/v1 Services by path (``http://127.0.0.1:7080/services``): set by
:mod:`kawa.runtime` for the tasks it starts; empty: Knative's cluster-local URL."""


class Unresolvable(KawaError):
    """A Destination cannot be resolved (yet); ``reason`` is a CamelCase condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Address:
    """A resolved destination: its URL, its OIDC audience and the PEM certificates its https
    certificate verifies against (``None``: it names none)."""

    url: str
    audience: str | None = None
    ca_certs: str | None = None


async def resolve(
    store: ResourceStore,
    destination: Destination,
    *,
    scheme: Scheme = SCHEME,
    track: Track | None = None,
) -> str:
    """The URL events for ``destination`` go to, or :class:`Unresolvable`; ``track`` records
    the object a ``ref`` names."""
    return (await resolve_address(store, destination, scheme=scheme, track=track)).url


async def resolve_address(
    store: ResourceStore,
    destination: Destination,
    *,
    scheme: Scheme = SCHEME,
    track: Track | None = None,
) -> Address:
    """:func:`resolve`, with the audience: the Destination's own ``audience``, else the one
    the object of ``ref`` publishes in ``status.address.audience`` (authentication-oidc); and
    the ``CACerts``: the Destination's own, else the ones of the object's address."""
    found = await _resolve(store, destination, scheme, track)
    audience = destination.audience or found.audience
    ca_certs = destination.ca_certs or found.ca_certs
    if ca_certs:
        wrong = cacerts.problem(ca_certs)
        if wrong is not None:
            raise Unresolvable("InvalidCACerts", f"the CACerts of {found.url}: {wrong}")
    return Address(found.url, audience, ca_certs or None)


async def _resolve(
    store: ResourceStore, destination: Destination, scheme: Scheme, track: Track | None
) -> Address:
    ref = destination.ref
    if ref is None:
        if not destination.uri:
            raise Unresolvable("EmptyDestination", "the destination has neither ref nor uri")
        return Address(destination.uri)
    try:
        kind = scheme.for_api_version_kind(ref.api_version, ref.kind)
    except ValidationError:
        raise Unresolvable(
            "UnsupportedKind",
            f"{ref.kind} ({ref.api_version}) is not a kind kawa can address",
        ) from None
    key = ResourceKey(kind.resource, ref.namespace if kind.namespaced else "", ref.name)
    if track is not None:
        track(key)
    try:
        target = await store.get(ResourceKey(kind.resource, ref.namespace, ref.name))
    except NotFoundError:
        raise Unresolvable(
            "NotFound", f'{ref.kind} "{ref.name}" does not exist in namespace "{ref.namespace}"'
        ) from None
    if kind.group == "" and kind.kind == "Service":
        base = SERVICES_URL.get()
        service_url = (
            f"{base}/{ref.namespace}/{ref.name}"
            if base
            else f"http://{ref.name}.{ref.namespace}.svc.cluster.local"
        )
        return Address(_with_uri(service_url, destination.uri))
    status = target.get("status", {}) or {}
    address = _https_address(status) or status.get("address", {}) or {}
    url = address.get("url") if isinstance(address, dict) else None
    if not isinstance(url, str) or not url:
        raise Unresolvable(
            "NotAddressable",
            f'{ref.kind} "{ref.namespace}/{ref.name}" has no status.address.url (not ready yet)',
        )
    audience = address.get("audience")
    ca_certs = address.get("CACerts")
    return Address(
        _with_uri(url, destination.uri),
        audience if isinstance(audience, str) and audience else None,
        ca_certs if isinstance(ca_certs, str) and ca_certs else None,
    )


def _https_address(status: Mapping[str, Any]) -> dict[str, Any] | None:
    """The https entry of ``status.addresses`` (transport-encryption permissive or strict):
    senders take it when there is one, as Knative's resolver does."""
    listed = status.get("addresses")
    if not isinstance(listed, list):
        return None
    for entry in listed:
        if isinstance(entry, dict) and str(entry.get("url", "")).startswith("https://"):
            return entry
    return None


def _with_uri(url: str, uri: str | None) -> str:
    """``url`` with a Destination's relative ``uri`` joined to it."""
    if uri:
        base = url if url.endswith("/") else url + "/"
        return urljoin(base, uri.lstrip("/"))
    return url


async def resolve_dead_letter_sink(
    store: ResourceStore,
    conditions: ConditionSet,
    status: dict[str, Any],
    delivery: duck.DeliverySpec | None,
    clock: Clock,
    track: Track,
) -> None:
    """``status.deadLetterSinkUri`` and ``DeadLetterSinkResolved`` for ``delivery``'s
    dead-letter sink (True with reason ``DeadLetterSinkNotConfigured`` without one)."""
    sink = delivery.dead_letter_sink if delivery is not None else None
    if sink is None:
        duck.mark_dead_letter_sink_not_configured(conditions, status, clock=clock)
        return
    try:
        address = await resolve_address(store, sink, track=track)
    except Unresolvable as err:
        duck.mark_dead_letter_sink_failed(
            conditions,
            status,
            "Unable to get the dead letter sink's URI",
            f"{err.reason}: {err.message}",
            clock=clock,
        )
    else:
        duck.mark_dead_letter_sink_resolved(
            conditions,
            status,
            address.url,
            clock=clock,
            audience=address.audience,
            ca_certs=address.ca_certs,
        )
