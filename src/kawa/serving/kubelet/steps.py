"""Steps the kubelet never abandons half-way: store writes, Events, killing and shutdown.

:func:`finish` awaits a step to its end even when its caller is cancelled meanwhile, then
lets the cancellation through. A bare ``asyncio.shield`` would also keep the step going, but
leave it running with nobody waiting for it, and its failure unseen ("Task exception was
never retrieved"). Used by the :class:`~kawa.serving.kubelet.Kubelet`, its Pod workers,
their containers and the Node's Event writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TypeVar

from kawa.errors import KawaError

log = logging.getLogger(__name__)

T = TypeVar("T")


async def finish(step: Awaitable[T]) -> T:
    """``await step``, to its end even if the caller is cancelled meanwhile (see above)."""
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])
        if not task.cancelled() and (err := task.exception()) is not None:
            # the caller is gone: a refused write (the Pod deleted meanwhile) is expected
            level = logging.DEBUG if isinstance(err, KawaError) else logging.WARNING
            log.log(level, "kubelet: a step finished after its caller stopped: %r", err)
        raise
