"""What one worker of ``kawa up --workers N`` is, as the runtime and the supervisor see it.

A worker is a whole kawa process (:func:`kawa.runtime.serve` with ``Config.worker`` set)
sharing the machine's ports with its siblings (``SO_REUSEPORT``) and the JetStream backends
with every node. It says where it listens in ``<data-dir>/workers/<index>.json`` (the
supervisor, :mod:`kawa.cli.workers`, owns ``server.json``), names itself
``<node-name>/<index>`` in leader election, and only worker 0 runs the node's kubelet and
heartbeat (Pods run once per machine). See docs/decisions/0045-workers.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import orjson
from aiohttp import web

WORKERS_DIR: Final = "workers"
"""Under the data dir: ``<index>.json`` per worker."""
HEADER: Final = "Kawa-Worker"
"""The response header naming the worker that answered (a debugging aid, workers only)."""
NODE_AGENT: Final = 0
"""The worker that runs the node's kubelet and heartbeat Lease."""


def state_file(data_dir: Path, index: int) -> Path:
    """Where worker ``index`` says it listens (its ``server.json``)."""
    return data_dir / WORKERS_DIR / f"{index}.json"


KUBELET_URL: Final = "kubeletUrl"
"""In worker 0's state file: its own loopback listener, where its siblings send the
requests its kubelet serves (a Pod's log, exec, port-forward; ADR "exec-logs-across-nodes"):
the shared port would hand them to any worker."""


def kubelet_url(data_dir: Path) -> str | None:
    """Worker 0's :data:`KUBELET_URL`, if it runs and said it."""
    try:
        state = orjson.loads(state_file(data_dir, NODE_AGENT).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    url = state.get(KUBELET_URL) if isinstance(state, dict) else None
    return url if isinstance(url, str) and url else None


def identity(node_name: str, index: int | None) -> str:
    """A process's name in leader election: the node's, and its index if it is a worker."""
    return node_name if index is None else f"{node_name}/{index}"


def runs_node_agent(index: int | None) -> bool:
    """Whether this process runs the node's kubelet and heartbeat (one per node)."""
    return index is None or index == NODE_AGENT


def extra_headers(index: int | None) -> dict[str, str]:
    """The headers :func:`header_hook` adds, for responses made without aiohttp."""
    return {} if index is None else {HEADER: str(index)}


def header_hook(index: int) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` hook adding :data:`HEADER` to every response."""
    value = str(index)

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers[HEADER] = value

    return add
