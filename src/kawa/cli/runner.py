"""How a ``kawa`` command runs: its event loop and its logging.

:func:`run_async` runs a coroutine on uvloop (when available) with SIGINT and SIGTERM
cancelling it cleanly; :func:`setup_logging` sends log records to stderr, a malformed request
from a client being one line, not a traceback. Called by :mod:`kawa.cli.main` (``kawa up``,
``kawa event-display``) and :mod:`kawa.cli.demo`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when available; SIGINT/SIGTERM cancel it cleanly."""
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        runner = asyncio.Runner()
    with runner:
        loop = runner.get_loop()
        task: asyncio.Task[T] = loop.create_task(main)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            raise SystemExit(0) from None


def setup_logging(level: str, process: str = "") -> None:
    """Log records of ``level`` and above to stderr, one line each (naming ``process``, such
    as ``worker 1``, if given)."""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)s {f'[{process}] ' if process else ''}%(name)s: "
        "%(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(_quiet_bad_requests)


def _quiet_bad_requests(record: logging.LogRecord) -> bool:
    """A malformed request from a client is the client's problem: one line, no traceback."""
    from aiohttp.http_exceptions import HttpProcessingError

    if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
        record.msg = f"rejected a malformed request: {record.exc_info[1]}"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True
