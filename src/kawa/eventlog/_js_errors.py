"""What goes wrong talking to JetStream, in kawa's words.

:func:`failures` wraps every call of the JetStream event log and its feeds: nats-py's errors
become kawa's (:class:`~kawa.errors.TemporaryError` unless a person must act: no room is
:class:`~kawa.errors.InsufficientStorageError`, a stream of kawa's name or subjects with other
settings :class:`~kawa.errors.PermanentError`), and a cancellation a nats-py request swallowed
(bpo-42130) is given back (:func:`kawa.jetstream.keeping_cancellation`).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Final

import nats
from nats.js import errors as js_errors

from kawa.errors import InsufficientStorageError, KawaError, PermanentError, TemporaryError

NOT_OURS: Final = frozenset({10058, 10065})
"""JetStream err_codes for a stream name in use with other settings, or subjects another
stream holds: only a person can sort that out."""
STORAGE_FULL: Final = frozenset({10023, 10028, 10047, 10077})
"""JetStream err_codes that say there is no room: the server or account (insufficient
resources) or the stream (its ``max_bytes``, kawa's ``--max-event-log-size``, reached)."""


class failures:  # used as a function: ``async with failures(...)``
    """Turn nats-py's errors into kawa's (retryable unless the configuration is wrong);
    ``what`` failed (on ``stream``, named only when it failed: appends are hot).

    nats-py's requests can swallow a cancel (bpo-42130): the block's end gives it back, as
    :func:`kawa.jetstream.keeping_cancellation` does. A class, not a generator: it wraps every
    append, and a generator-based context manager costs several times more per use."""

    __slots__ = ("_before", "_stream", "_task", "_what")

    def __init__(self, what: str, stream: str | None = None) -> None:
        self._what = what
        self._stream = stream
        self._task: asyncio.Task[object] | None = None
        self._before = 0

    async def __aenter__(self) -> None:
        self._task = task = asyncio.current_task()
        self._before = task.cancelling() if task is not None else 0

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        task = self._task
        swallowed = task is not None and task.cancelling() > self._before
        if err is None:
            if swallowed:
                raise asyncio.CancelledError
            return
        if isinstance(err, asyncio.CancelledError):
            return
        if swallowed:
            raise asyncio.CancelledError from err
        if isinstance(err, (nats.errors.Error, TimeoutError, OSError)):
            what = self._what if self._stream is None else f"{self._what} {self._stream!r}"
            raise failure(err, what) from err


def failure(err: BaseException, what: str) -> KawaError:
    if isinstance(err, js_errors.APIError):
        description = (err.description or "").lower()
        if err.err_code in NOT_OURS:
            return PermanentError(
                f"{what}: JetStream refused: {err.description} (a stream of kawa's name or "
                "subjects exists with other settings; see docs/distributed.md)"
            )
        if err.err_code in STORAGE_FULL or "insufficient" in description:
            return InsufficientStorageError(f"{what}: JetStream has no room: {err.description}")
    return TemporaryError(f"{what}: {err}")
