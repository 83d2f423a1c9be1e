"""Find the asyncio tasks a test leaves running (the autouse fixture in tests/conftest.py).

kawa's rule is that every task has an owner that waits for it. pytest-asyncio closes a test's
event loop after the test, and closing a loop cancels whatever still runs without a word, so
a task nobody owns would go unnoticed. The fixture makes it a test error instead, and so is a
task of the test that failed with nobody retrieving its exception (nobody waited for it).

Which tasks are a test's: :func:`install` puts a task factory on the test's loop that records,
for every task created, the :class:`TaskLedger` of the test it was created for, and where.
The ledger is found through a context variable that the fixture sets for the duration of
the test: a task inherits its creator's context, so whatever the test and its function-scoped
fixtures start, directly or from a callback (a server's connection handler), carries the
test's ledger. A task created through a ``TaskGroup`` belongs to the group's owner (the owner
of the task that opened the group). Module- and session-scoped fixtures are set up before the
variable is set, so the tasks they start, and those that their tasks start later while a test
runs (a shared kawa reconciling what the test created), are never charged to a test.

At teardown :func:`settle` gives the test's unfinished tasks a brief chance to end (one
already cancelled and unwinding), and :func:`report` names those that did not, with their
coroutine, where they were created and where they wait; :func:`report_failures` names the
tasks that failed unseen (:meth:`TaskLedger.unretrieved`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
from collections.abc import Coroutine, Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

_ASYNCIO_DIR = str(Path(asyncio.__file__).parent)
_TASKGROUP_CREATE = asyncio.TaskGroup.create_task.__code__
_SITE_FRAMES = 3
# Where a frame's file belongs: asyncio's frames are skipped in a site, the test runner's end it.
_CODE, _ASYNCIO, _RUNNER = 0, 1, 2
_RUNNER_PACKAGES = ("/_pytest/", "/pluggy/", "/pytest_asyncio/")
_KINDS: dict[str, int] = {}

Site = tuple[tuple[str, int, str], ...]

_LEDGER: contextvars.ContextVar[TaskLedger | None] = contextvars.ContextVar(
    "kawa_tests_task_ledger", default=None
)


class TaskLedger:
    """The tasks created for one test, with where each one was created (held until the test
    ends: a task nobody else references shows up here rather than vanishing)."""

    def __init__(self, test: str) -> None:
        self.test = test
        self._sites: dict[asyncio.Task[Any], Site] = {}

    def record(self, task: asyncio.Task[Any], site: Site) -> None:
        self._sites[task] = site

    def __contains__(self, task: object) -> bool:
        return task in self._sites

    def pending(self) -> list[asyncio.Task[Any]]:
        return [task for task in self._sites if not task.done()]

    def unretrieved(self) -> list[asyncio.Task[Any]]:
        """The tasks that failed without anyone retrieving their exception: nobody waited
        for them (asyncio would say "Task exception was never retrieved" when it frees them,
        long after the test). ``_log_traceback`` is the flag asyncio keeps for that."""
        return [
            task
            for task in self._sites
            if task.done() and not task.cancelled() and getattr(task, "_log_traceback", False)
        ]

    def site(self, task: asyncio.Task[Any]) -> str:
        frames = self._sites.get(task, ())
        return " <- ".join(f"{_short(f)}:{line} in {name}" for f, line, name in frames) or "?"


@contextlib.contextmanager
def tracking(ledger: TaskLedger) -> Iterator[TaskLedger]:
    """Charge the tasks created in this context (and in copies made of it) to ``ledger``."""
    token = _LEDGER.set(ledger)
    try:
        yield ledger
    finally:
        _LEDGER.reset(token)


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Record the owner and creation site of every task ``loop`` creates from now on."""
    previous = loop.get_task_factory()
    if getattr(previous, "records_owners", False):
        return

    def factory(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
        **kwargs: Any,
    ) -> asyncio.Future[Any]:
        if previous is not None:
            task = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        context: contextvars.Context | None = kwargs.get("context")
        ledger = _LEDGER.get() if context is None else context.get(_LEDGER)
        if ledger is not None and isinstance(task, asyncio.Task):
            caller = sys._getframe(1)
            if _owned_by(ledger, caller):
                ledger.record(task, _site(caller))
        return task

    factory.records_owners = True  # type: ignore[attr-defined]
    loop.set_task_factory(factory)


def _owned_by(ledger: TaskLedger, caller: FrameType) -> bool:
    """Whether a task created in the ledger's context is the ledger's: yes, unless a
    ``TaskGroup`` that the test did not open creates it (the group's owner owns it)."""
    frame: FrameType | None = caller
    while frame is not None and _kind(frame.f_code.co_filename) == _ASYNCIO:
        if frame.f_code is _TASKGROUP_CREATE:
            group = frame.f_locals.get("self")
            return getattr(group, "_parent_task", None) in ledger
        frame = frame.f_back
    return True


def _kind(filename: str) -> int:
    kind = _KINDS.get(filename)
    if kind is None:
        if filename.startswith(_ASYNCIO_DIR):
            kind = _ASYNCIO
        elif any(package in filename for package in _RUNNER_PACKAGES):
            kind = _RUNNER
        else:
            kind = _CODE
        _KINDS[filename] = kind
    return kind


def _site(caller: FrameType) -> Site:
    """The first few frames outside asyncio that led to the task's creation, innermost first
    (kept raw: formatting every task's site would slow down tests that create many)."""
    frame: FrameType | None = caller
    site: list[tuple[str, int, str]] = []
    while frame is not None and len(site) < _SITE_FRAMES:
        kind = _kind(frame.f_code.co_filename)
        if kind == _RUNNER:
            break
        if kind == _CODE:
            site.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return tuple(site)


def _short(filename: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(filename).relative_to(Path.cwd()))
    return filename


async def settle(ledger: TaskLedger, grace: float) -> list[asyncio.Task[Any]]:
    """Wait up to ``grace`` seconds for the ledger's tasks to finish; the ones still running."""
    deadline = asyncio.get_running_loop().time() + grace
    while pending := ledger.pending():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return pending
        await asyncio.wait(pending, timeout=left)
    return []


async def cancel(tasks: list[asyncio.Task[Any]], grace: float) -> None:
    """Cancel leaked tasks and let them unwind, so that they do not spill into later tests."""
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=grace)


def report(ledger: TaskLedger, leaked: list[asyncio.Task[Any]]) -> str:
    """Name the leaked tasks: coroutine, where each was created and where it waits."""
    lines = [f"{ledger.test} left {len(leaked)} asyncio task(s) running:"]
    for task in leaked:
        lines.append(f"  {task.get_name()} running {_coroutine(task)}")
        lines.append(f"    created at {ledger.site(task)}")
        lines.append(f"    waiting at {_waiting(task)}")
    return "\n".join(lines)


def report_failures(ledger: TaskLedger, failed: list[asyncio.Task[Any]]) -> str:
    """Name the tasks that failed unseen (and mark their exceptions retrieved)."""
    lines = [f"{ledger.test} has {len(failed)} task(s) that failed with nobody waiting:"]
    for task in failed:
        lines.append(f"  {task.get_name()} running {_coroutine(task)}: {task.exception()!r}")
        lines.append(f"    created at {ledger.site(task)}")
    return "\n".join(lines)


def _coroutine(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return str(getattr(coro, "__qualname__", repr(coro)))


def _waiting(task: asyncio.Task[Any]) -> str:
    """The innermost frame of the task's stack outside asyncio (or asyncio's, if all are)."""
    frames = task.get_stack()
    if not frames:
        return "not started"
    ours = [frame for frame in frames if _kind(frame.f_code.co_filename) != _ASYNCIO]
    frame = (ours or frames)[-1]
    return f"{_short(frame.f_code.co_filename)}:{frame.f_lineno} in {frame.f_code.co_name}"
