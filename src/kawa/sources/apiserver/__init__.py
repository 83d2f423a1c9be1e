"""ApiServerSource: CloudEvents for the changes of Kubernetes objects (issue #6).

- :mod:`.reconciler`: status (``SinkProvided``, ``SufficientPermissions``, ``Deployed``,
  ``Ready``, ``sinkUri``, ``ceAttributes``, ``namespaces``) and which adapters run;
- :mod:`.adapter`: list-then-watch per resource and namespace, one event per change, resumed
  after a restart from :mod:`.state`;
- :mod:`.events`: the events themselves and the label/owner filters (pure);
- :mod:`.watch`: the Cluster / ObjectWatcher protocols, implemented by :mod:`.local` (kawa's
  own store, RBAC checked by :mod:`kawa.authorization` against the Roles and bindings
  stored in kawa) and :mod:`.remote`
  (any Kubernetes-compatible API server, through a kubeconfig in a Secret named by the
  annotation ``sources.kawa.dev/kubeconfig-secret``).

:func:`apiserver_sources` builds the runnables for :mod:`kawa.runtime`. See
``docs/sources-apiserver.md``.
"""

from __future__ import annotations

from pathlib import Path

from kawa.apis.conditions import Clock, system_clock
from kawa.delivery.sender import Dispatcher
from kawa.reconciler.loop import Controller
from kawa.sources import sink
from kawa.sources.apiserver.adapter import Adapters
from kawa.sources.apiserver.clusters import Clusters
from kawa.sources.apiserver.local import StoreCluster
from kawa.sources.apiserver.reconciler import apiserversource_controller
from kawa.sources.apiserver.state import StateDirectory
from kawa.store.base import ResourceStore

__all__ = ["AdapterRunner", "apiserver_sources"]


class AdapterRunner:
    """Runs the adapters the reconciler starts; closes the remote clusters' HTTP session."""

    name = "apiserversource-adapters"

    def __init__(self, adapters: Adapters, clusters: Clusters) -> None:
        self.adapters = adapters
        self._clusters = clusters

    async def run(self) -> None:
        try:
            await self.adapters.run()
        finally:
            await self._clusters.close()


def apiserver_sources(
    store: ResourceStore,
    dispatcher: Dispatcher,
    *,
    data_dir: Path,
    api_url: str,
    clock: Clock = system_clock,
) -> list[Controller | AdapterRunner]:
    """The ApiServerSource controller and its adapters; each has ``name`` and ``async run()``.

    ``api_url`` is kawa's own API server URL: the ``source`` of the events of sources that
    watch kawa itself. Adapter state lives under ``<data_dir>/sources/apiserver/``.
    """
    clusters = Clusters(store, StoreCluster(store, api_url))
    adapters = Adapters(sink.SinkSender(dispatcher), StateDirectory(data_dir))
    controller = apiserversource_controller(store, clusters, adapters, clock)
    return [controller, AdapterRunner(adapters, clusters)]
