"""A tiny event source that ContainerSource and SinkBinding tests run as a container (a real
process). Every ``$INTERVAL`` seconds (0.1) it POSTs a binary-mode CloudEvent to ``$K_SINK``
with the extensions of ``$K_CE_OVERRIDES`` and a ``pid`` extension (so a test sees restarts);
after ``$EXIT_AFTER`` events (if set) it exits with code 1. Without ``$K_SINK`` it says so
and exits 2. Standard library only, so it starts fast.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

if __name__ == "__main__":
    sink = os.environ.get("K_SINK")
    if not sink:
        print("K_SINK is not set", file=sys.stderr, flush=True)
        sys.exit(2)
    overrides = json.loads(os.environ.get("K_CE_OVERRIDES") or "{}")
    extensions = overrides.get("extensions") or {}
    interval = float(os.environ.get("INTERVAL", "0.1"))
    exit_after = int(os.environ.get("EXIT_AFTER", "0"))
    pid = os.getpid()
    n = 0
    while True:
        n += 1
        headers = {
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": f"{pid}-{n}",
            "ce-type": "dev.kawa.test.heartbeat",
            "ce-source": f"heartbeat/{os.environ.get('HOSTNAME', '')}",
            "ce-pid": str(pid),
            "ce-sink": sink,
        }
        headers.update({f"ce-{k}": str(v) for k, v in extensions.items()})
        body = json.dumps({"n": n}).encode()
        request = urllib.request.Request(sink, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError) as err:
            print(f"event {n}: {err}", flush=True)
        if exit_after and n >= exit_after:
            sys.exit(1)
        time.sleep(interval)  # the source's period
