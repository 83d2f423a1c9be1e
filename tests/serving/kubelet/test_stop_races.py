"""A Pod stopped at any moment of a crash loop stays stopped (real crash-looping processes).

The kubelet stops a Pod worker when its Pod is deleted (or kawa stops). Its container may be
anywhere in its crash loop then: starting, running, just exited (its readiness check being
cancelled), backing off. A stop that lands right after the process exited used to be lost (the
worker swallowed the cancellation while it cancelled the readiness check), so the container was
restarted forever and the stop, and kawa's shutdown after it, never ended. These tests stop the
worker at every event-loop step after an exit, so they do not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio

from kawa.serving.kubelet import config as kubelet_config
from kawa.serving.kubelet.worker import PodWorker

from ...waiting import eventually
from .kubelet_support import Node, alive, free_port, pod_key, pod_obj, sh

STEPS = 6
"""Event-loop steps after a reaped exit at which the cancellation is tried (the racy window
is the first two)."""
STOP_BOUND = 15.0
"""A stop takes well under a second; a lost one never ends."""
CANCEL_BOUND = 5.0
"""A cancelled supervisor ends within a few loop iterations; one that lost it runs on."""


async def _worker(node: Node, name: str) -> PodWorker:
    async def running() -> PodWorker | None:
        worker = node.kubelet.workers.get(("default", name))
        return worker if worker is not None and worker.runners[0].runs >= 1 else None

    return await eventually(running, 30, f"pod {name} never ran its container")


def _supervisor(worker: PodWorker) -> asyncio.Task[object]:
    """The task running the restart loop of the worker's container (its TaskGroup's child)."""
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        supervises = str(getattr(coro, "__qualname__", "")).endswith("._supervise")
        if supervises and frame is not None and frame.f_locals.get("self") is worker:
            return task
    raise AssertionError("the worker supervises no container")


async def _after_reaped_exit(worker: PodWorker, steps: int) -> None:
    """Return ``steps`` loop iterations after the worker reaped its container's next exit
    (the step that forgets its pid file is the step that cancels its readiness check)."""
    runner = worker.runners[0]
    runs = runner.runs
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:  # one loop iteration per sleep(0)
        assert loop.time() < deadline, "the container never exited again"
        child = runner.child
        if (
            runner.runs > runs
            and child is not None
            and not (worker.node.pids.directory / str(child.pid)).exists()
        ):
            break
        await asyncio.sleep(0)
    for _ in range(steps):
        await asyncio.sleep(0)


async def test_a_stop_at_any_step_after_a_crash_is_never_lost(node: Node) -> None:
    await node.configure(
        kubelet_config.CONFIG_MAP,
        {"crash-loop-backoff-initial": "20ms", "crash-loop-backoff-max": "20ms"},
    )
    # a declared port: its readiness check runs while the container does (and is cancelled
    # when it exits, the racy moment)
    crash = sh("exit 3", ports=[{"containerPort": free_port()}])
    for steps in range(STEPS):
        name = f"crash-{steps}"
        await node.create(pod_obj(name, [crash], grace=1))
        worker = await _worker(node, name)
        supervisor = _supervisor(worker)
        await _after_reaped_exit(worker, steps)
        # what stopping the worker does to it: its TaskGroup cancels it, once
        supervisor.cancel()
        await asyncio.wait([supervisor], timeout=CANCEL_BOUND)
        runner = worker.runners[0]
        runs = runner.runs
        stopped = supervisor.done()
        await asyncio.wait_for(worker.stop(), STOP_BOUND)  # (cancels it again)
        assert stopped, f"cancelled {steps} step(s) after an exit, it ran on ({runs} runs)"
        await asyncio.sleep(0.2)  # ten back-off periods: a live crash loop would restart
        assert runner.runs == runs, f"stopped {steps} step(s) after an exit, it restarted"
        assert runner.child is not None
        assert not alive(runner.child.pid)
        await node.store.delete(pod_key(name))


async def test_a_stop_while_backing_off_never_restarts(node: Node) -> None:
    await node.configure(
        kubelet_config.CONFIG_MAP,
        {"crash-loop-backoff-initial": "500ms", "crash-loop-backoff-max": "500ms"},
    )
    await node.create(pod_obj("backoff", [sh("exit 3")], grace=1))
    worker = await _worker(node, "backoff")
    runner = worker.runners[0]

    async def backing_off() -> bool:
        return bool(runner.state.get("waiting", {}).get("reason") == "CrashLoopBackOff")

    await eventually(backing_off, 10, "the container never backed off")
    runs = runner.runs
    await asyncio.wait_for(worker.stop(), STOP_BOUND)
    await asyncio.sleep(1.0)  # twice the back-off
    assert runner.runs == runs
