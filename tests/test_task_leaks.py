"""The leaked-task check of tests/conftest.py (tests/task_leaks.py): it names a task a test
leaves running, lets one that is about to finish finish, and never charges a test with the
tasks of a fixture that outlives it."""

from __future__ import annotations

import asyncio
import contextvars
import textwrap

import pytest

from tests import task_leaks


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_a_task_left_running_is_reported_with_where_it_was_created() -> None:
    task_leaks.install(asyncio.get_running_loop())
    ledger = task_leaks.TaskLedger("the test")
    with task_leaks.tracking(ledger):
        stray = asyncio.create_task(_forever(), name="stray")
        done = asyncio.create_task(asyncio.sleep(0))
    await done
    leaked = await task_leaks.settle(ledger, 0.05)
    assert leaked == [stray]
    message = task_leaks.report(ledger, leaked)
    assert message.splitlines()[:2] == [
        "the test left 1 asyncio task(s) running:",
        "  stray running _forever",
    ]
    assert "created at tests/test_task_leaks.py:" in message
    assert "in test_a_task_left_running_is_reported_with_where_it_was_created" in message
    assert "waiting at tests/test_task_leaks.py:" in message
    await task_leaks.cancel(leaked, 1.0)
    assert stray.cancelled()


async def test_a_task_about_to_finish_is_given_the_time() -> None:
    task_leaks.install(asyncio.get_running_loop())
    ledger = task_leaks.TaskLedger("the test")
    release = asyncio.Event()
    with task_leaks.tracking(ledger):
        finishing = asyncio.create_task(release.wait())
    asyncio.get_running_loop().call_later(0.05, release.set)
    assert await task_leaks.settle(ledger, 5.0) == []
    assert finishing.done()


async def test_a_task_that_failed_unseen_is_reported() -> None:
    task_leaks.install(asyncio.get_running_loop())
    ledger = task_leaks.TaskLedger("the test")

    async def fail() -> None:
        raise LookupError("nobody saw this")

    with task_leaks.tracking(ledger):
        unseen = asyncio.create_task(fail(), name="unseen")
        seen = asyncio.create_task(fail())
    await asyncio.wait([unseen, seen])
    with pytest.raises(LookupError):
        seen.result()
    assert ledger.unretrieved() == [unseen]
    message = task_leaks.report_failures(ledger, [unseen])
    assert message.splitlines()[:2] == [
        "the test has 1 task(s) that failed with nobody waiting:",
        "  unseen running test_a_task_that_failed_unseen_is_reported.<locals>.fail: "
        "LookupError('nobody saw this')",
    ]
    assert ledger.unretrieved() == []  # reported once, and not again by asyncio


async def test_tasks_of_a_longer_lived_owner_are_not_the_tests() -> None:
    """What a module-scoped fixture runs, and what its TaskGroup starts on a test's behalf,
    belongs to the fixture; what the test starts in its own group is the test's."""
    task_leaks.install(asyncio.get_running_loop())
    groups: asyncio.Queue[asyncio.TaskGroup] = asyncio.Queue()

    async def shared_fixture() -> None:
        async with asyncio.TaskGroup() as group:
            await groups.put(group)
            await _forever()

    # created outside any test's context, as a module-scoped fixture's tasks are
    shared = asyncio.create_task(shared_fixture(), context=contextvars.Context())
    group = await groups.get()
    ledger = task_leaks.TaskLedger("the test")
    mine: list[asyncio.Task[None]] = []

    async def the_test() -> asyncio.Task[None]:
        on_behalf = group.create_task(_forever())
        async with asyncio.TaskGroup() as own:
            mine.append(own.create_task(_forever(), name="mine"))
            await asyncio.sleep(0)  # one turn of the loop: it runs
            running = await task_leaks.settle(ledger, 0)
            assert set(running) == {asyncio.current_task(), *mine}  # not on_behalf
            mine[0].cancel()
        return on_behalf

    with task_leaks.tracking(ledger):
        on_behalf = await asyncio.create_task(the_test())
    assert await task_leaks.settle(ledger, 0) == []
    shared.cancel()
    await asyncio.wait([shared, on_behalf])


def test_the_fixture_fails_the_leaking_test_only(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        """
    )
    pytester.makeconftest("from tests.conftest import no_leaked_tasks  # noqa: F401\n")
    pytester.makepyfile(
        test_leaky=textwrap.dedent(
            """
            import asyncio

            import pytest
            import pytest_asyncio


            async def forever() -> None:
                await asyncio.Event().wait()


            @pytest_asyncio.fixture(scope="module", loop_scope="module")
            async def shared():
                task = asyncio.create_task(forever(), name="shared")
                yield task
                task.cancel()


            @pytest.mark.asyncio(loop_scope="module")
            async def test_uses_the_shared_fixture(shared) -> None:
                assert not shared.done()


            @pytest.mark.asyncio(loop_scope="module")
            async def test_leaks_on_the_module_loop(shared) -> None:
                asyncio.create_task(forever(), name="leaked-on-module-loop")


            async def test_leaks() -> None:
                asyncio.create_task(forever(), name="leaked")


            async def test_fails_unseen() -> None:
                async def boom() -> None:
                    raise LookupError("unseen")

                await asyncio.wait([asyncio.create_task(boom(), name="boom")])


            async def test_cleans_up() -> None:
                task = asyncio.create_task(forever())
                task.cancel()


            def test_sync() -> None:
                pass
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=6, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*test_leaky.py::test_leaks_on_the_module_loop left 1 asyncio task(s) running:",
            "*leaked-on-module-loop running forever",
            "*test_leaky.py::test_leaks left 1 asyncio task(s) running:",
            "*leaked running forever",
            "*created at test_leaky.py:*in test_leaks",
            "*test_leaky.py::test_fails_unseen has 1 task(s) that failed with nobody waiting:",
            "*boom running *boom: LookupError('unseen')",
        ],
        consecutive=False,
    )
    assert "shared running" not in result.stdout.str()
