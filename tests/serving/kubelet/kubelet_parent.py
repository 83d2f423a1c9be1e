"""A stand-in for kawa in the child-hygiene tests: runs a Kubelet with one Pod, prints
``<container pid> <pod uid>`` once the Pod runs, then waits to be killed.

Usage: ``python kubelet_parent.py DATA_DIR [SCRIPT]`` (the container runs ``sh -c SCRIPT``,
by default ``sleep 60 & wait``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from kawa.apis.core.pod import default_pod
from kawa.serving.kubelet import Kubelet
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore


async def main(data_dir: Path, script: str) -> None:
    store = SqliteResourceStore(":memory:")
    kubelet = Kubelet(store, data_dir)
    task = asyncio.create_task(kubelet.run())
    await kubelet.ready.wait()
    key = ResourceKey("pods", "default", "orphan")
    pod = default_pod(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "orphan", "namespace": "default"},
            "spec": {
                "nodeName": "kawa",  # bound: no scheduler runs here
                "containers": [{"name": "c", "image": "busybox", "args": ["sh", "-c", script]}],
            },
        }
    )
    await store.create(key, pod)
    while True:
        obj = await store.get(key)
        statuses = obj.get("status", {}).get("containerStatuses", [])
        if statuses and "running" in statuses[0]["state"]:
            pid = statuses[0]["containerID"].removeprefix("kawa://")
            print(pid, obj["metadata"]["uid"], flush=True)
            break
        await asyncio.sleep(0.02)  # polled until the container runs
    await task


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "sleep 60 & wait"))
