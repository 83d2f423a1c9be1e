"""What kawa's senders trust: the certificates an ``https`` receiver's may chain to.

As Knative's senders, a delivery to an ``https`` URL verifies the receiver (its certificate
chain and its host name) against

* the system's CA certificates,
* kawa's own CA (the certificate of its data-plane HTTPS listener, which its own https
  addresses publish as ``CACerts``),
* every trust bundle: the PEM values of the ConfigMaps in ``knative-eventing`` labelled
  ``networking.knative.dev/trust-bundle: "true"``, handed in by
  :class:`kawa.reconciler.trust_bundles.LiveTrustBundles` as they change, and
* the destination's own ``CACerts``, when it has some (a Trigger's ``spec.subscriber.CACerts``,
  or the ``CACerts`` of the address its ``ref`` resolved to), added to all of the above.

:class:`Trust` hands out one :class:`ssl.SSLContext` per distinct ``CACerts`` value (``None``:
none), built on first use in a worker thread (loading the system's CAs takes tens of
milliseconds) and kept, the least recently used first out, until the trust bundles change:
then every context is built anew, so a new connection verifies with the bundles of the
moment; the connection pool keys its connections by context, so none verified under the old
trust is reused (ADR 0067). A ``CACerts`` value that is not PEM certificates fails with
:class:`BadCACerts` (remembered too, so it is not parsed again per delivery). Used by
:class:`kawa.delivery.sender.Dispatcher`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Final

from kawa.apis import cacerts
from kawa.errors import KawaError

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE: Final = 64
"""Contexts kept at once (distinct ``CACerts`` values in use, plus the one for none)."""


class BadCACerts(KawaError):
    """A destination's ``CACerts`` are not PEM certificates: nothing can be verified against
    them (the message says why)."""


class Trust:
    """The senders' trust (see the module docstring). ``own_ca`` is kawa's CA certificate
    (PEM); ``system`` whether the system's CAs are trusted (tests leave them out to stay
    fast)."""

    def __init__(
        self, *, own_ca: str = "", system: bool = True, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be >= 1")
        self._own_ca = own_ca
        self._system = system
        self._cache_size = cache_size
        self._bundles: tuple[tuple[str, str], ...] = ()
        self._contexts: collections.OrderedDict[str, ssl.SSLContext | str] = (
            collections.OrderedDict()
        )
        """By ``CACerts``: the context, or why there is none (not PEM certificates)."""
        self._building: dict[str, asyncio.Future[ssl.SSLContext]] = {}
        self.generation = 0
        """Counts the changes of the trust bundles (every context is built anew after one)."""

    @property
    def bundles(self) -> Mapping[str, str]:
        """The trust bundles in effect: ``<configmap>/<key>`` -> PEM."""
        return dict(self._bundles)

    def set_bundles(self, bundles: Mapping[str, str]) -> None:
        """Trust ``bundles`` (``<configmap>/<key>`` -> PEM certificates, checked by the caller)
        from now on, and nothing of the ones before; new connections verify with them."""
        given = tuple(sorted(bundles.items()))
        if given == self._bundles:
            return
        self._bundles = given
        self.generation += 1
        self._contexts.clear()
        self._building.clear()

    async def context(self, ca_certs: str | None = None) -> ssl.SSLContext:
        """The client context for a destination with these ``CACerts`` (``None`` or ``""``:
        none); raises :class:`BadCACerts` when they are not PEM certificates."""
        key = ca_certs or ""
        found = self._contexts.get(key)
        if found is not None:
            self._contexts.move_to_end(key)
            if isinstance(found, str):
                raise BadCACerts(found)
            return found
        building = self._building.get(key)
        if building is None:
            wrong = cacerts.problem(key) if key else None
            if wrong is not None:
                message = f"the destination's CACerts: {wrong}"
                self._keep(key, message)
                raise BadCACerts(message)
            building = asyncio.ensure_future(asyncio.to_thread(self._build, key, self._bundles))
            self._building[key] = building
            building.add_done_callback(self._built(key, self.generation))
        return await asyncio.shield(building)

    def _built(self, key: str, generation: int) -> Callable[[asyncio.Future[ssl.SSLContext]], None]:
        def done(future: asyncio.Future[ssl.SSLContext]) -> None:
            if generation != self.generation:  # the bundles changed meanwhile: not kept
                return
            if self._building.get(key) is future:
                del self._building[key]
            if future.cancelled():
                return
            error = future.exception()
            if error is None:
                self._keep(key, future.result())
            elif isinstance(error, BadCACerts):
                self._keep(key, str(error))

        return done

    def _keep(self, key: str, value: ssl.SSLContext | str) -> None:
        self._contexts[key] = value
        self._contexts.move_to_end(key)
        while len(self._contexts) > self._cache_size:
            self._contexts.popitem(last=False)

    def _build(self, ca_certs: str, bundles: tuple[tuple[str, str], ...]) -> ssl.SSLContext:
        """A client context (hostname checked, certificate required) trusting the system's
        CAs, kawa's, ``bundles`` and ``ca_certs`` (run in a worker thread)."""
        if self._system:
            context = ssl.create_default_context()
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self._own_ca:
            context.load_verify_locations(cadata=self._own_ca)
        for source, pem in bundles:
            try:
                context.load_verify_locations(cadata=pem)
            except ssl.SSLError as err:  # checked when read: reported, never fatal
                log.warning("trust bundle %s skipped: %s", source, err)
        if ca_certs:
            try:
                context.load_verify_locations(cadata=ca_certs)
            except ssl.SSLError as err:
                raise BadCACerts(
                    f"the destination's CACerts: {cacerts.NOT_PEM}: {err.reason or err}"
                ) from None
        return context
