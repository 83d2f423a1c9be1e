"""What every test shares: the Hypothesis profiles and the check for leaked asyncio tasks.

Hypothesis profiles: ``ci`` is deterministic (``derandomize``: the examples are derived from
each test, so a green run stays green and a red one reproduces), ``dev`` explores (new random
examples each run, failures kept in ``.hypothesis/`` and replayed first). ``ci`` is loaded
when the ``CI`` environment variable is set (``.ci/run`` sets it, as CI services do),
``dev`` otherwise; ``--hypothesis-profile NAME`` chooses explicitly. Neither has a deadline:
the machine running the suite may be loaded, and a slow example is not a failure.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings

from tests import task_leaks

pytest_plugins = ["pytester"]

# The kawa processes tests start run containers as host processes unless a test asks for
# podman (kawa up --runtime podman): most tests run programs on the host under any image.
os.environ.setdefault("KAWA_RUNTIME", "process")

settings.register_profile(
    "ci",
    settings.get_profile("default"),
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", settings.get_profile("default"), deadline=None)


def hypothesis_profile(environ: Mapping[str, str]) -> str:
    """``ci`` where the ``CI`` variable is set (to anything, as Hypothesis itself reads it)."""
    return "ci" if "CI" in environ else "dev"


settings.load_profile(hypothesis_profile(os.environ))

# How long a test's tasks may take to finish once its fixtures are torn down: enough for a
# task already on its way out (cancelled and unwinding), not for one nobody waits for.
TASK_GRACE = 0.1


@pytest.fixture(autouse=True)
def no_leaked_tasks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail an async test that leaves asyncio tasks running once its fixtures are torn down,
    or whose tasks failed with nobody waiting for them (see tests/task_leaks.py for which
    tasks count as the test's)."""
    item = request.node
    if not pytest_asyncio.is_async_test(item):
        yield
        return
    # The runner of the test's loop is set up before this fixture and torn down after it:
    # everything else the test set up is gone when the check runs, the loop is still open.
    runner = request.getfixturevalue(f"_{_loop_scope(item)}_scoped_runner")
    task_leaks.install(runner.get_loop())
    ledger = task_leaks.TaskLedger(item.nodeid)
    with task_leaks.tracking(ledger):
        yield
    leaked = runner.run(task_leaks.settle(ledger, TASK_GRACE))
    problems = []
    if leaked:
        problems.append(task_leaks.report(ledger, leaked))
        runner.run(task_leaks.cancel(leaked, 1.0))
    if failed := ledger.unretrieved():
        problems.append(task_leaks.report_failures(ledger, failed))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _loop_scope(item: pytest.Item) -> str:
    """The scope of the loop pytest-asyncio runs ``item`` in (as pytest-asyncio decides it)."""
    marker = item.get_closest_marker("asyncio")
    scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope") if marker else None
    return str(scope or item.config.getini("asyncio_default_test_loop_scope") or "function")


@pytest.fixture
def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
