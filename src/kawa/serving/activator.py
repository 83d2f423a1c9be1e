"""The activator's throttler: which instance of a Revision takes a request, or wait for one.

One :class:`Throttler` per Revision (owned by its :class:`~kawa.serving.autoscaler.RevisionScaler`
and used by the router in :mod:`kawa.serving.dataplane`). It knows the Revision's ready
instances (:class:`Endpoint`: a Pod's ``127.0.0.1:<port>``) and the requests in flight on each.
:meth:`Throttler.acquire` gives a request the least busy instance below ``containerConcurrency``
(Knative's hard limit; 0: no limit); with none free, the request waits in a bounded FIFO
(``activator-capacity``) until an instance frees up or a new one becomes ready, and the
autoscaler is told at once when the Revision has no instance at all (scale from zero), even
when the request is then refused. Beyond the capacity, :class:`Overloaded` (the router answers
503 with ``Retry-After``); once the Revision is deleted, :class:`RevisionDeleted` for the
waiting requests and new ones (requests in flight go on: the instance may still answer).

It also measures the Revision's concurrency for the autoscaler: requests in flight plus
requests waiting, integrated over time, read as an average per sample period by
:meth:`Throttler.take_sample`, with the peak of the period in :attr:`Throttler.sample_peak`.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kawa.errors import KawaError


class Overloaded(KawaError):
    """More requests wait for the Revision than ``activator-capacity`` allows."""


class Unavailable(KawaError):
    """The Revision cannot serve: its image cannot run."""


class RevisionDeleted(Unavailable):
    """The Revision was deleted while the request waited for an instance."""


@dataclass(eq=False, slots=True)
class Endpoint:
    """One ready instance of a Revision."""

    pod: str
    address: tuple[str, int]
    """The Pod's IP and the port its container listens on."""
    url: str
    in_flight: int = 0
    active: bool = True
    """False once it left the Revision's endpoints (not ready, deleted or draining)."""
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while nothing is in flight on it."""


class Throttler:
    """Requests in flight per instance of one Revision (see the module docstring)."""

    def __init__(
        self,
        revision: str,
        *,
        container_concurrency: int,
        capacity: int,
        clock: Callable[[], float],
        on_demand: Callable[[], None] = lambda: None,
    ) -> None:
        self.revision = revision
        self.container_concurrency = container_concurrency
        self.capacity = capacity
        self._clock = clock
        self._on_demand = on_demand
        self._endpoints: dict[str, Endpoint] = {}
        self._waiters: collections.deque[asyncio.Future[Endpoint]] = collections.deque()
        self._unavailable: str | None = None
        self._deleted = False
        # concurrency integral for the autoscaler
        self._count = 0
        self._peak = 0
        self.sample_peak = 0
        """The most requests in flight plus waiting at once in the last sample period."""
        self._area = 0.0
        self._changed = clock()
        self._sample_start = self._changed

    # -- state ---------------------------------------------------------------------------

    @property
    def concurrency(self) -> int:
        """Requests in flight plus requests waiting, now."""
        return self._count

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        return self._endpoints

    def max_in_flight(self) -> int:
        """The most requests in flight on one instance now (tests and debugging)."""
        return max((e.in_flight for e in self._endpoints.values()), default=0)

    def take_sample(self, now: float) -> float:
        """The average concurrency since the previous sample (or since creation)."""
        self._integrate(now)
        elapsed = now - self._sample_start
        average = self._area / elapsed if elapsed > 0 else float(self._count)
        self._area = 0.0
        self._sample_start = now
        self.sample_peak = self._peak
        self._peak = self._count
        return average

    def _integrate(self, now: float) -> None:
        if now > self._changed:
            self._area += self._count * (now - self._changed)
            self._changed = now

    def _adjust(self, delta: int) -> None:
        self._integrate(self._clock())
        self._count += delta
        self._peak = max(self._peak, self._count)

    # -- endpoints -----------------------------------------------------------------------

    def set_endpoints(self, ready: Mapping[str, tuple[str, int]]) -> None:
        """The ready instances now: pod name -> (IP, port)."""
        for name in list(self._endpoints):
            endpoint = self._endpoints[name]
            if ready.get(name) != endpoint.address:
                endpoint.active = False
                del self._endpoints[name]
        for name, (host, port) in ready.items():
            if name not in self._endpoints:
                endpoint = Endpoint(name, (host, port), f"http://{host}:{port}")
                endpoint.idle.set()
                self._endpoints[name] = endpoint
        self._dispatch()

    def drain(self, pod: str) -> Endpoint | None:
        """Take ``pod`` out of rotation (it is about to be deleted); its Endpoint if it had one."""
        endpoint = self._endpoints.pop(pod, None)
        if endpoint is not None:
            endpoint.active = False
        return endpoint

    def set_unavailable(self, reason: str | None) -> None:
        """Fail waiting and new requests with :class:`Unavailable` (``None``: serve again)."""
        if self._deleted:
            return
        self._unavailable = reason
        if reason is not None:
            self._fail_waiters()

    def set_deleted(self) -> None:
        """The Revision is gone: fail waiting and new requests with :class:`RevisionDeleted`."""
        self._deleted = True
        self._unavailable = f"Revision {self.revision} was deleted"
        self._fail_waiters()

    def _error(self) -> Unavailable:
        reason = self._unavailable or ""
        return RevisionDeleted(reason) if self._deleted else Unavailable(reason)

    def _fail_waiters(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._error())

    # -- requests ------------------------------------------------------------------------

    async def acquire(self) -> Endpoint:
        """An instance for one request (call :meth:`release` after); waits as needed.

        Raises :class:`Overloaded` or :class:`Unavailable`; the caller bounds the wait
        (``asyncio.timeout``).
        """
        if self._unavailable is not None:
            raise self._error()
        waiters = self._waiters
        while waiters and waiters[0].done():  # left by requests that gave up
            waiters.popleft()
        if not waiters:
            endpoint = self._free()
            if endpoint is not None:
                self._adjust(1)
                self._take(endpoint)
                return endpoint
        if not self._endpoints:
            # even if refused below: the request counts as demand, so a Revision at zero wakes
            self._peak = max(self._peak, self._count + 1)
            self._on_demand()
        if self.waiting >= self.capacity:
            raise Overloaded(
                f"revision {self.revision} has {self.capacity} requests waiting already"
            )
        waiter: asyncio.Future[Endpoint] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        self._adjust(1)
        self._dispatch()
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())  # handed an instance while leaving: give it back
            else:
                waiter.cancel()
                self._adjust(-1)
            raise

    def release(self, endpoint: Endpoint) -> None:
        """The request on ``endpoint`` is over."""
        endpoint.in_flight -= 1
        if endpoint.in_flight == 0:
            endpoint.idle.set()
        self._adjust(-1)
        self._dispatch()

    def _take(self, endpoint: Endpoint) -> None:
        endpoint.in_flight += 1
        endpoint.idle.clear()

    def _free(self) -> Endpoint | None:
        limit = self.container_concurrency
        best: Endpoint | None = None
        for endpoint in self._endpoints.values():
            if limit and endpoint.in_flight >= limit:
                continue
            if best is None or endpoint.in_flight < best.in_flight:
                best = endpoint
                if not best.in_flight:
                    break
        return best

    def _dispatch(self) -> None:
        """Hand free instances to waiting requests, first come first served."""
        waiters = self._waiters
        while waiters:
            if waiters[0].done():
                waiters.popleft()
                continue
            endpoint = self._free()
            if endpoint is None:
                return
            self._take(endpoint)
            waiters.popleft().set_result(endpoint)
