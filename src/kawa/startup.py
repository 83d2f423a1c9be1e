"""What ``kawa up`` does before it serves and after it stops: the data dir made private, the
objects every kawa starts with, and the server file it leaves.

- :func:`make_private`: the data dir 0700, or group and other permissions taken off an
  existing one (an older kawa left it readable);
- :func:`seed`: namespaces, CRDs and the default configuration, again on a conflict (nodes
  starting at once on one JetStream store race on these writes);
- :func:`owned_by_us`: whether the server file is this process's (a stop removes only its
  own);
- :func:`node_lease`: this node's heartbeat.

Used by :mod:`kawa.runtime` (and :mod:`kawa.cli.workers`, which prepares the data dir of a
set of workers).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from pathlib import Path
from typing import Final

import orjson

from kawa import files, workers
from kawa.apis.registry import SCHEME
from kawa.apiserver import access, crds
from kawa.controllers.eventing import ensure_broker_configs
from kawa.controllers.messaging import ensure_channel_defaults
from kawa.controllers.namespaces import ensure_namespaces
from kawa.controllers.serving_config import ensure_serving_config
from kawa.coordination import node_lease as node_lease_module
from kawa.datadir import SERVER_FILE
from kawa.errors import ConflictError
from kawa.store.base import ResourceStore

log = logging.getLogger(__name__)

DATA_DIR_ENTRIES: Final = (
    "resources.db*",
    "events.db*",
    access.TOKEN_FILE,
    access.KUBECONFIG_FILE,
    "tls",
    SERVER_FILE,
    workers.WORKERS_DIR,
    "kubelet",
    "sources",
)
"""What kawa keeps in its data dir (globs): made private on start, if an older kawa left it
readable by others."""


def node_lease(store: ResourceStore, node_name: str, grace: float) -> node_lease_module.NodeLease:
    """Node ``node_name``'s heartbeat, renewed four times per ``grace`` period (the node
    monitor's grace, seconds; at most every 10 s)."""
    return node_lease_module.NodeLease(
        store,
        node_name,
        interval=min(node_lease_module.RENEW_INTERVAL, grace / 4),
        duration=max(1, math.ceil(grace)),
    )


def make_private(data_dir: Path) -> None:
    """Create the data dir 0700, or take group and other permissions off an existing one and
    everything in it (logged: an older kawa left it readable by every local user)."""
    existed = data_dir.is_dir()
    files.make_dir(data_dir)
    if not existed:
        return
    changed = files.tighten(data_dir, DATA_DIR_ENTRIES)
    if changed:
        shown = ", ".join(str(path.relative_to(data_dir)) for path in changed[:5])
        log.warning(
            "the data dir %s was readable by other users: made %d path(s) private (%s%s)",
            data_dir,
            len(changed),
            shown,
            ", ..." if len(changed) > 5 else "",
        )


def owned_by_us(server_file: Path) -> bool:
    """Whether ``server_file`` names this process (its ``pid``)."""
    try:
        return bool(orjson.loads(server_file.read_bytes()).get("pid") == os.getpid())
    except (OSError, orjson.JSONDecodeError):
        return False


async def seed(store: ResourceStore, attempts: int = 10) -> None:
    """Store what every kawa starts with (namespaces, CRDs, configuration). Nodes starting at
    once on one JetStream store race on these writes: the loser of a race (a conflict) does
    it all again, reading what the winner wrote (each step leaves what is right alone)."""
    for attempt in range(1, attempts + 1):
        try:
            await ensure_namespaces(store)
            await crds.sync(store, SCHEME)
            await ensure_serving_config(store)
            await ensure_broker_configs(store)
            await ensure_channel_defaults(store)
            return
        except ConflictError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.05 * attempt)
