"""Waiting in tests: poll a condition until it holds, instead of sleeping for a guessed time.

:func:`eventually` (async) and :func:`wait_until` (for tests that drive child processes
synchronously) call ``check`` until it returns something truthy and return that, or fail
with ``message`` and the last value after ``timeout`` seconds. A check that holds costs at
most one interval; the timeouts are generous because the suite runs on loaded machines.

"Nothing more arrives" is not a condition to poll: wait for a positive signal that the
system has processed past the point in question (a later event delivered, a watermark
advanced, a log line), then assert the absence. Used by tests throughout the suite.
"""

from __future__ import annotations

import asyncio
import reprlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    timeout: float = 10.0,
    message: str = "",
    every: float = 0.02,
) -> T:
    """The first truthy result of ``await check()``, polled every ``every`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(_timed_out(timeout, message or repr(check), value))
        await asyncio.sleep(every)


def wait_until(
    check: Callable[[], T | None],
    timeout: float = 10.0,
    message: str = "",
    every: float = 0.05,
) -> T:
    """The first truthy result of ``check()``, polled every ``every`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(timeout, message or repr(check), value))
        time.sleep(every)


def _timed_out(timeout: float, message: str, last: object) -> str:
    return f"timed out after {timeout}s: {message} (last: {reprlib.repr(last)})"
