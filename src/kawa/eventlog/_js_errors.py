"""What goes wrong talking to JetStream, in kawa's words.

:func:`failures` wraps every call of the JetStream event log and its feeds: nats-py's errors
become kawa's (:class:`~kawa.errors.TemporaryError` unless a person must act: no room is
:class:`~kawa.errors.InsufficientStorageError`, a stream of kawa's name or subjects with other
settings :class:`~kawa.errors.PermanentError`), and a cancellation a nats-py request swallowed
(bpo-42130) is given back (:func:`kawa.jetstream.keeping_cancellation`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final

import nats
from nats.js import errors as js_errors

from kawa import jetstream
from kawa.errors import InsufficientStorageError, KawaError, PermanentError, TemporaryError

NOT_OURS: Final = frozenset({10058, 10065})
"""JetStream err_codes for a stream name in use with other settings, or subjects another
stream holds: only a person can sort that out."""
STORAGE_FULL: Final = frozenset({10023, 10028, 10047, 10077})
"""JetStream err_codes that say there is no room: the server or account (insufficient
resources) or the stream (its ``max_bytes``, kawa's ``--max-event-log-size``, reached)."""


@contextlib.asynccontextmanager
async def failures(what: str, stream: str | None = None) -> AsyncIterator[None]:
    """Turn nats-py's errors into kawa's (retryable unless the configuration is wrong);
    ``what`` failed (on ``stream``, named only when it failed: appends are hot)."""
    # nats-py's requests can swallow a cancel (bpo-42130): kawa.jetstream gives it back.
    with jetstream.keeping_cancellation():
        try:
            yield
        except (nats.errors.Error, TimeoutError, OSError) as err:
            raise failure(err, what if stream is None else f"{what} {stream!r}") from err


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
