"""Leader election over a Lease in the resource store: one node runs what must run once.

A :class:`LeaderElector` is a candidate named ``identity`` (the node's name) for the Lease
``namespace/name`` (kawa's controllers: ``kube-system/kawa-controllers``). :meth:`run` tries
every ``retry_period`` to acquire it (create it when absent; take it over when free, or
expired by :func:`kawa.coordination.leases.expired`), with optimistic concurrency: every
write names the resourceVersion it read, so of candidates racing for one version one wins
and the others get a conflict. Once leader, it calls ``lead()`` and renews the lease every
``retry_period``; when a renewal has not succeeded for ``renew_deadline`` (the store
unreachable) or the lease shows another holder, leadership is lost: ``lead()`` is cancelled
at once and the elector is a candidate again (``lead()`` is called anew when it wins). A
leader stops leading (``renew_deadline`` after its last successful renewal) before any
other candidate may take over (``lease_duration`` after it last saw the lease change):
``lease_duration`` must exceed ``renew_deadline``, which must exceed ``retry_period``.

Cancelling :meth:`run` (a clean stop) cancels ``lead()``, waits for it to end, and releases
the lease (no holder, a one-second duration) so another candidate takes it at its next try.
A leader that dies without releasing it (SIGKILL) is replaced within ``lease_duration`` plus
one ``retry_period``. The rules are the pure functions of :mod:`kawa.coordination.leases`;
this module is the I/O around them. Wired by :mod:`kawa.runtime` (docs/distributed.md,
"Several nodes: who leads").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kawa.apis import coordination
from kawa.coordination import leases
from kawa.errors import AlreadyExistsError, ConflictError, KawaError, NotFoundError
from kawa.store.base import Obj, ResourceKey, ResourceStore
from kawa.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LEASES: Final = coordination.LEASE.resource
CONTROLLERS_LEASE: Final = "kawa-controllers"
"""The Lease naming the node that runs kawa's controllers."""
SYSTEM_NAMESPACE: Final = "kube-system"
JITTER: Final = 0.2
"""A candidate waits ``retry_period`` times 1 to 1.2 between tries (client-go's factor), so
candidates started together do not keep trying in step."""

Clock = Callable[[], float]
Lead = Callable[[], Coroutine[Any, Any, None]]
"""What runs while leading: called anew each time leadership is won."""
WallClock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Timing:
    """The durations of leader election, in seconds (client-go's defaults)."""

    lease_duration: float = 15.0
    """How long candidates wait after the lease last changed before they take it over."""
    renew_deadline: float = 10.0
    """How long a leader keeps leading without a successful renewal."""
    retry_period: float = 2.0
    """Between two tries to acquire, and between two renewals."""

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration, "
                f"got {self.retry_period}, {self.renew_deadline}, {self.lease_duration}"
            )

    @property
    def lease_seconds(self) -> int:
        """``leaseDurationSeconds`` as written in the Lease (whole seconds, rounded up)."""
        return max(1, math.ceil(self.lease_duration))


class LeaderElector:
    """One candidate for one Lease (see the module docstring)."""

    def __init__(
        self,
        store: ResourceStore,
        identity: str,
        *,
        name: str = CONTROLLERS_LEASE,
        namespace: str = SYSTEM_NAMESPACE,
        timing: Timing | None = None,
        clock: Clock = time.monotonic,
        wall: WallClock = _now,
        release_on_cancel: bool = True,
    ) -> None:
        self.store = store
        self.release_on_cancel = release_on_cancel
        """Whether a stop releases the lease (False: it expires, as after a crash)."""
        self.identity = identity
        self.key = ResourceKey(LEASES, namespace, name)
        self.timing = timing or Timing()
        self._clock = clock
        self._wall = wall
        self._observation: leases.Observation | None = None
        self._renewed_at = 0.0
        self._leading = False
        self.transitions = 0
        """How many times this elector became leader."""

    @property
    def leading(self) -> bool:
        """Whether this candidate leads now (``lead()`` runs)."""
        return self._leading

    @property
    def holder(self) -> str:
        """The holder this candidate last saw in the lease ("" for none or not read yet)."""
        return "" if self._observation is None else self._observation.record.holder

    async def run(self, lead: Lead) -> None:
        """Run ``lead()`` whenever this candidate leads, until cancelled (then the lease is
        released) or until ``lead()`` returns (released too) or raises (released, raised)."""
        try:
            while True:
                await self._acquire()
                if not await self._lead(lead):
                    return
        finally:
            if self._leading:
                self._leading = False
                if self.release_on_cancel:
                    await self._release_bounded()

    # -- candidate and leader ----------------------------------------------------------------

    async def _acquire(self) -> None:
        while True:
            if await self._attempt(self.timing.renew_deadline):
                self._leading = True
                self.transitions += 1
                log.info("%s leads (lease %s)", self.identity, self.key)
                return
            await asyncio.sleep(self.timing.retry_period * random.uniform(1.0, 1.0 + JITTER))

    async def _lead(self, lead: Lead) -> bool:
        """Run ``lead()`` while renewing; True when leadership was lost, False when ``lead()``
        returned."""
        leading = asyncio.create_task(lead(), name=f"lead-{self.key.name}")
        renewing = asyncio.create_task(self._keep_renewing(), name=f"renew-{self.key.name}")
        try:
            await asyncio.wait({leading, renewing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            renewing.cancel()
            leading.cancel()
            # lead() has ended before anything else happens (a release, another leader)
            await asyncio.wait({leading, renewing})
        if leading.done() and not leading.cancelled():
            error = leading.exception()
            if error is not None:
                raise error
            return False
        renewing.result()
        return True

    async def _keep_renewing(self) -> None:
        """Renew every retry period; return when leadership is lost."""
        timing = self.timing
        while True:
            await asyncio.sleep(timing.retry_period)
            left = self._renewed_at + timing.renew_deadline - self._clock()
            outcome = await self._attempt(left) if left > 0 else None
            if outcome:
                continue
            holder = self.holder
            if holder and holder != self.identity:
                self._leading = False
                log.warning("%s lost the lease %s to %s", self.identity, self.key, holder)
                return
            if self._renewed_at + timing.renew_deadline <= self._clock():
                self._leading = False
                log.warning(
                    "%s could not renew the lease %s for %.1f s: no longer leads",
                    self.identity,
                    self.key,
                    timing.renew_deadline,
                )
                return

    async def _attempt(self, timeout: float) -> bool:
        """One try to acquire or renew, given up after ``timeout`` seconds; whether it held."""
        try:
            async with asyncio.timeout(timeout):
                return await self._try_acquire_or_renew()
        except TimeoutError:
            log.warning("%s: the store did not answer in %.1f s", self.key, timeout)
        except KawaError as err:
            log.warning("%s: %s", self.key, err)
        return False

    async def _try_acquire_or_renew(self) -> bool:
        started = self._clock()
        timing = self.timing
        try:
            current = await self.store.get(self.key)
        except NotFoundError:
            record = leases.taken(None, self.identity, timing.lease_seconds, self._wall())
            obj = leases.lease(self.key.name, self.key.namespace, record)
            try:
                stored = await self.store.create(self.key, obj)
            except AlreadyExistsError:
                return False
            self._held(stored, started)
            return True
        observation = self._see(current, started)
        if not leases.may_take(observation, self.identity, started):
            return False
        record = leases.taken(observation.record, self.identity, timing.lease_seconds, self._wall())
        current["spec"] = leases.spec(record)  # names the resourceVersion read: conditional
        try:
            stored = await self.store.update(self.key, current)
        except (ConflictError, NotFoundError):
            return False
        self._held(stored, started)
        return True

    def _see(self, obj: Obj, now: float) -> leases.Observation:
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        self._observation = leases.observe(self._observation, leases.read(obj), version, now)
        return self._observation

    def _held(self, stored: Obj, started: float) -> None:
        # the renewal counts from before the write: the leader's deadline runs out before any
        # candidate's view of the lease can expire
        self._see(stored, started)
        self._renewed_at = started

    # -- release -----------------------------------------------------------------------------

    async def _release_bounded(self) -> None:
        task = asyncio.create_task(self._release(), name=f"release-{self.key.name}")
        done, _ = await asyncio.wait({task}, timeout=self.timing.renew_deadline)
        if not done:
            await cancel_and_wait(task)
            log.warning("%s: the lease was not released (the store did not answer)", self.key)
            return
        with contextlib.suppress(asyncio.CancelledError):
            error = task.exception()
            if error is not None:
                log.warning("%s: the lease was not released: %s", self.key, error)

    async def _release(self) -> None:
        try:
            current = await self.store.get(self.key)
        except NotFoundError:
            return
        record = leases.read(current)
        if record.holder != self.identity:
            return
        current["spec"] = leases.spec(leases.released(record, self._wall()))
        with contextlib.suppress(ConflictError, NotFoundError):
            await self.store.update(self.key, current)
            log.info("%s released the lease %s", self.identity, self.key)
