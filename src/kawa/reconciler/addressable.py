"""What every addressable kawa serves itself publishes: its URL on the data-plane port.

:class:`AddressableReconciler` is the base of the reconcilers of the kinds whose events kawa's
data plane takes at ``<prefix><namespace>/<name>`` (EventTransform, JobSink, IntegrationSink,
RequestReply): :meth:`~AddressableReconciler.publish_address` sets ``status.address`` (with the
kind's OIDC audience while authentication-oidc is on) and ``status.addresses`` (the http and
https ones, by transport-encryption, with the CACerts of kawa's certificate), marks
``Addressable`` and returns the flags in effect; :meth:`~AddressableReconciler.url_of` is the
object's URL on a given base; :meth:`~AddressableReconciler.mark_policies` its
``status.policies`` and ``EventPoliciesReady``. The flags are tracked: turning them on or off
reconciles the object again. :func:`addressable_controller` runs such a reconciler for its
objects and the EventPolicies of their namespaces.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kawa.apis import features
from kawa.apis.conditions import Clock
from kawa.apis.duck import set_address
from kawa.reconciler.eventpolicies import mark_event_policies, receivers_of_policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.features import FEATURES_KEY, FeatureFlags
from kawa.reconciler.loop import Controller, own
from kawa.reconciler.status import Reconciling, StatusReconciler, T
from kawa.store.base import ResourceStore


def data_plane_url(base_url: str, prefix: str, namespace: str, name: str) -> str:
    """``<base_url><prefix><namespace>/<name>`` (``prefix`` such as ``/jobsinks/``)."""
    return f"{base_url.rstrip('/')}{prefix}{namespace}/{name}"


class AddressableReconciler(StatusReconciler[T]):
    """A :class:`StatusReconciler` of a kind kawa's data plane serves (see the module)."""

    prefix: ClassVar[str]
    """The kind's path on the data-plane port (``/jobsinks/``)."""
    api_version: ClassVar[str]
    kind: ClassVar[str]

    def __init__(
        self,
        store: ResourceStore,
        ingress_base_url: str,
        clock: Clock,
        recorder: EventRecorder | None = None,
        *,
        https_base_url: str = "",
        ca_certs: str = "",
    ) -> None:
        super().__init__(store, clock, recorder)
        self._base = ingress_base_url
        self._https = https_base_url
        self._ca_certs = ca_certs
        self._features = FeatureFlags(store)

    def url_of(self, namespace: str, name: str, *, https: bool = False) -> str:
        """The object's URL on kawa's data plane ("" for https when there is no https port)."""
        base = self._https if https else self._base
        return data_plane_url(base, self.prefix, namespace, name) if base else ""

    async def publish_address(self, current: Reconciling[Any]) -> features.Features:
        """Set the object's address(es) and ``Addressable``; the flags in effect."""
        current.track(FEATURES_KEY)  # authentication-oidc on or off: the audience follows
        flags = await self._features.current()
        namespace, name = current.key.namespace, current.key.name
        audience = (
            features.audience(self.api_version, self.kind, namespace, name) if flags.oidc else None
        )
        url = self.url_of(namespace, name)
        set_address(
            self.conditions,
            current.status,
            url,
            what=self.kind,
            clock=self.clock,
            audience=audience,
            addresses=features.addresses(
                url,
                self.url_of(namespace, name, https=True),
                self._ca_certs,
                flags.transport_encryption,
                audience,
            ),
        )
        return flags

    async def mark_policies(self, current: Reconciling[Any], flags: features.Features) -> None:
        """The object's ``status.policies`` and ``EventPoliciesReady`` (the EventPolicies of
        its namespace that apply to it)."""
        await mark_event_policies(
            self.store,
            self.conditions,
            current.status,
            current.spec,
            flags,
            api_version=self.api_version,
            clock=self.clock,
        )


def addressable_controller(
    name: str, reconciler: AddressableReconciler[Any], resource: str
) -> Controller:
    """The controller ``name`` running ``reconciler`` for the objects of ``resource``: an
    object is reconciled when it, what it tracked, or an EventPolicy of its namespace
    changes."""
    return Controller(
        name,
        reconciler.store,
        reconciler.reconcile,
        [own(resource), receivers_of_policies(reconciler.store, resource)],
        tracker=reconciler.tracker,
    )
