"""Leak checks for the end-to-end tests: no test may leave a kawa child process running.

The function-scoped check fails the test that started a child and left it alive (and kills
it); the session-scoped one catches children of module-scoped fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .e2e_support import CHILDREN, stop


def _alive(since: int = 0) -> list[int]:
    return [p.pid for p in CHILDREN[since:] if p.poll() is None]


@pytest.fixture(autouse=True)
def no_leftover_children() -> Iterator[None]:
    before = len(CHILDREN)
    yield
    left = _alive(before)
    for proc in CHILDREN[before:]:
        stop(proc)
    if left:
        pytest.fail(f"the test left child processes running: pids {left}")


@pytest.fixture(scope="session", autouse=True)
def no_leftover_children_at_exit() -> Iterator[None]:
    # Children started before this fixture belong to fixtures set up earlier (the kubectl
    # suite's shared kawa, when it runs first), which stop them after this check.
    before = len(CHILDREN)
    yield
    left = _alive(before)
    for proc in CHILDREN[before:]:
        stop(proc)
    if left:
        pytest.fail(f"child processes were left running: pids {left}")
