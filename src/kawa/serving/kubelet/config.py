"""The kubelet's settings, read from the ConfigMap ``knative-serving/config-kawa-kubelet``.

Keys (a missing key is the default; a bad value is reported as a warning and the default
kept, so a typo never stops Pods from running):

- ``crash-loop-backoff-initial`` (``10s``) and ``crash-loop-backoff-max`` (``300s``): the
  delay before restarting a crashed container doubles from the first to the second;
- ``log-max-bytes`` (``10Mi``): the log kept per container (current file plus one rotated);
- ``readiness-poll-interval`` (``20ms``): how often a starting container's readiness is
  checked (the cold start of a Service waits on it).

Durations are Go's (``500ms``, ``1m30s``; read by :func:`kawa.apis.duration.parse_go_duration`),
sizes Kubernetes quantities (``10Mi``, ``10485760``). Used by :class:`kawa.serving.kubelet.Kubelet`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from kawa.apis import duration

CONFIG_MAP: Final = "config-kawa-kubelet"
CONFIG_NAMESPACE: Final = "knative-serving"

_QUANTITY: Final = re.compile(r"(\d+)(Ki|Mi|Gi|k|K|M|G)?")
_SUFFIX: Final = {
    None: 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
}


@dataclass(frozen=True, slots=True)
class KubeletConfig:
    crash_loop_backoff_initial: float = 10.0
    crash_loop_backoff_max: float = 300.0
    log_max_bytes: int = 10 * 1024 * 1024
    readiness_poll_interval: float = 0.02

    def backoff(self, crashes: int) -> float:
        """The delay before restart number ``crashes`` (the first restart is immediate)."""
        if crashes <= 0:
            return 0.0
        delay = self.crash_loop_backoff_initial * float(2 ** min(crashes - 1, 30))
        return min(delay, self.crash_loop_backoff_max)


def parse_quantity(text: str) -> int:
    """Bytes in a quantity (``10Mi``, ``512Ki``, ``1048576``); ValueError if malformed."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid size {text!r}: expected a number of bytes such as 10Mi")
    return int(match.group(1)) * _SUFFIX[match.group(2)]


def _with_duration(config: KubeletConfig, attr: str, seconds: float) -> KubeletConfig:
    if attr == "crash_loop_backoff_initial":
        return replace(config, crash_loop_backoff_initial=seconds)
    if attr == "crash_loop_backoff_max":
        return replace(config, crash_loop_backoff_max=seconds)
    return replace(config, readiness_poll_interval=seconds)


def config_from_configmap(data: Mapping[str, str] | None) -> tuple[KubeletConfig, list[str]]:
    """The settings in ``data`` (``None``: no ConfigMap), plus a warning per bad value."""
    config = KubeletConfig()
    warnings: list[str] = []
    if not data:
        return config, warnings
    where = f"{CONFIG_NAMESPACE}/{CONFIG_MAP}"
    durations = {
        "crash-loop-backoff-initial": "crash_loop_backoff_initial",
        "crash-loop-backoff-max": "crash_loop_backoff_max",
        "readiness-poll-interval": "readiness_poll_interval",
    }
    for key, attr in durations.items():
        if key not in data:
            continue
        try:
            seconds = duration.parse_go_duration(str(data[key]))
            if seconds <= 0:
                raise ValueError(f"invalid duration {data[key]!r}: must be positive")
        except ValueError as err:
            warnings.append(f"{where} data[{key}]: {err}; keeping the default")
            continue
        config = _with_duration(config, attr, seconds)
    if "log-max-bytes" in data:
        try:
            size = parse_quantity(str(data["log-max-bytes"]))
            if size < 1024:
                raise ValueError(f"invalid size {data['log-max-bytes']!r}: at least 1Ki")
        except ValueError as err:
            warnings.append(f"{where} data[log-max-bytes]: {err}; keeping the default")
        else:
            config = replace(config, log_max_bytes=size)
    if config.crash_loop_backoff_max < config.crash_loop_backoff_initial:
        warnings.append(
            f"{where}: crash-loop-backoff-max is below crash-loop-backoff-initial; using the "
            "initial delay as the maximum"
        )
        config = replace(config, crash_loop_backoff_max=config.crash_loop_backoff_initial)
    return config, warnings
