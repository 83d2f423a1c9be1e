"""kawa's kubelet: core/v1 Pods run as local child processes, with their logs and Events.

:class:`Kubelet` is the node agent (started by :mod:`kawa.runtime`); its
:meth:`Kubelet.pod_log` serves the Pod ``log`` subresource. Modules: :mod:`.kubelet`
(watches and the worker per Pod), :mod:`.worker` (one Pod's life), :mod:`.container` (one
container's runs), :mod:`.process` (spawning, signals, leftovers, the watchdog process),
:mod:`.watchdog` (what kills the containers' processes when kawa dies), :mod:`.logs` (CRI
log files), :mod:`.log_handler` (``kubectl logs``), :mod:`.probes` (readiness),
:mod:`.env` (environment), :mod:`.config` (``config-kawa-kubelet``), :mod:`.hop` and
:mod:`.proxy` (a Pod's log, exec and port-forward sent to the kawa whose kubelet runs it).
See ``docs/pods.md``.
"""

from kawa.serving.kubelet.config import KubeletConfig
from kawa.serving.kubelet.kubelet import Kubelet, log_handler_for

__all__ = ["Kubelet", "KubeletConfig", "log_handler_for"]
