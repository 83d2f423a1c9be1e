"""Stopping an asyncio task without losing the stopper's own cancellation.

``task.cancel(); with suppress(CancelledError): await task`` has a hole: if the *caller* is
cancelled while it awaits ``task`` (a TaskGroup stopping it, a Pod deleted), asyncio forwards
that cancellation to ``task``, which is already cancelled, and the single CancelledError that
comes back is suppressed as if it were ``task``'s. The caller then runs on as if nobody had
asked it to stop. That lost cancellation once let a crash-looping container restart forever
after its Pod was deleted (the kubelet's Pod worker). :func:`cancel_and_wait` waits with
:func:`asyncio.wait`, which never raises the awaited task's CancelledError into the caller:
a CancelledError the caller sees is its own.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any], timeout: float | None = None) -> bool:
    """Cancel ``task`` and wait until it ended, at most ``timeout`` seconds; whether it did.

    The caller's own cancellation while it waits propagates (``task`` is cancelled either
    way). An exception ``task`` raised while it was being cancelled is retrieved (no "never
    retrieved" warning) and left to the caller to look at through ``task.exception()``.
    """
    task.cancel()
    if not task.done():
        await asyncio.wait([task], timeout=timeout)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: the caller may log it
    return task.done()
