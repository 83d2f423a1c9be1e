"""The ConfigMaps of Knative Serving in ``knative-serving``, created at startup when missing.

Like a Knative install, kawa ships each ConfigMap with only an ``_example`` key that documents
the keys and their defaults; the built-in defaults apply until a user sets a key
(``kubectl edit configmap config-autoscaler -n knative-serving``). The components that read
them (the autoscaler, the kubelet, the image catalog) watch them and apply changes live.
An existing ConfigMap is never overwritten. Called once by :mod:`kawa.runtime`.
"""

from __future__ import annotations

from typing import Any, Final

from kawa.apis import core
from kawa.errors import ConflictError
from kawa.store.base import ResourceKey, ResourceStore

NAMESPACE: Final = "knative-serving"
CONFIGMAPS: Final = core.CONFIG_MAP.resource

_AUTOSCALER: Final = """\
# Knative's keys of config-autoscaler, with kawa's defaults. Copy a key out of _example to set it.
container-concurrency-target-default: "100"
container-concurrency-target-percentage: "70"
stable-window: "60s"
panic-window-percentage: "10.0"
panic-threshold-percentage: "200.0"
max-scale-up-rate: "1000.0"
max-scale-down-rate: "2.0"
enable-scale-to-zero: "true"
scale-to-zero-grace-period: "30s"
scale-to-zero-pod-retention-period: "0s"
initial-scale: "1"
allow-zero-initial-scale: "false"
min-scale: "0"
max-scale: "0"
# kawa's own: the max-scale of a Revision that sets none (every instance is a process on this
# machine; default max(4, 2 * CPUs); "0": no cap),
kawa-max-scale-default: "4"
# how often the autoscaler decides, and how many requests one Revision may hold while it has
# no free instance (beyond: 503 with Retry-After).
tick-interval: "2s"
activator-capacity: "1000"
"""

_IMAGES: Final = """\
# How kawa runs a container image as a local process (no container engine is used).
# Key: the image name without tag and digest, with or without its registry, each "/" written
# as "." (ConfigMap keys cannot hold "/"); the most specific key wins. Value: one of
#   host                    run the container's command + args on this machine (args alone
#                           are the command, as for an image without an entrypoint)
#   builtin:<program>       a program that comes with kawa: event-display, appender,
#                           heartbeats, cloudevents-player
#   <command line>          the image's entrypoint; the container's command replaces it and
#                           its args are appended
# Built in: */event_display, */event-display -> builtin:event-display; Knative's samples
# */cmd/appender, */cmd/heartbeats, */cloudevents-player -> builtin:appender, ...;
# busybox, alpine, debian, ubuntu, fedora, centos, bash and similar -> host.
# Copy a line below out of _example, under data:, to use it.
example.com.team.greeter: "python3 /opt/greeter/server.py"
team.worker: host
python: host
"""

_KUBELET: Final = """\
# How kawa's kubelet runs Pods as processes.
crash-loop-backoff-initial: "10s"
crash-loop-backoff-max: "300s"
log-max-bytes: "10Mi"
readiness-poll-interval: "20ms"
"""

_DEPLOYMENT: Final = """\
# Knative's key of config-deployment that kawa reads. Copy it out of _example to set it.
# How long a new Revision may take to get its first ready instance; after that it fails with
# ProgressDeadlineExceeded (per Revision: annotation serving.knative.dev/progress-deadline).
progress-deadline: "600s"
"""

DEFAULTS: Final = {
    "config-autoscaler": _AUTOSCALER,
    "config-deployment": _DEPLOYMENT,
    "config-kawa-images": _IMAGES,
    "config-kawa-kubelet": _KUBELET,
}


def _configmap(name: str, example: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "kawa"},
        },
        "data": {"_example": example},
    }


async def ensure_serving_config(store: ResourceStore) -> None:
    """Create the ConfigMaps of :data:`DEFAULTS` that do not exist yet."""
    for name, example in DEFAULTS.items():
        try:
            await store.create(ResourceKey(CONFIGMAPS, NAMESPACE, name), _configmap(name, example))
        except ConflictError:
            continue
