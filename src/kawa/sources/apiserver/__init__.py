"""ApiServerSource: CloudEvents for the changes of Kubernetes objects (issue #6).

- :mod:`.reconciler`: status (``SinkProvided``, ``SufficientPermissions``, ``Deployed``,
  ``Ready``, ``sinkUri``, ``ceAttributes``, ``namespaces``) and which adapters run;
- :mod:`.adapter`: list-then-watch per resource and namespace, one event per change, resumed
  after a restart or a change of leader from :mod:`.state` (kept in the resource store);
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
from kawa.sources.apiserver.state import StateStore
from kawa.store.base import ResourceStore

__all__ = ["AdapterRunner", "apiserver_sources"]


class AdapterRunner:
    """Runs the adapters the reconciler starts; closes the remote clusters' HTTP session.
    First removes the states of sources deleted while no adapter ran
    (:meth:`~kawa.sources.adapter_state.StateStore.sweep_logged`)."""

    name = "apiserversource-adapters"

    def __init__(self, adapters: Adapters, clusters: Clusters, states: StateStore) -> None:
        self.adapters = adapters
        self._clusters = clusters
        self._states = states

    async def run(self) -> None:
        try:
            await self._states.sweep_logged()
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
    watch kawa itself. Adapter state lives in ``store`` (:mod:`.state`); the files older kawas
    kept under ``<data_dir>/sources/apiserver/`` are moved there.
    """
    clusters = Clusters(store, StoreCluster(store, api_url))
    states = StateStore(store, data_dir)
    adapters = Adapters(sink.SinkSender(dispatcher), states)
    controller = apiserversource_controller(store, clusters, adapters, clock)
    return [controller, AdapterRunner(adapters, clusters, states)]
