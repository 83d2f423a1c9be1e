"""What the elected leader runs: everything that must run once across the nodes sharing a store.

:func:`run_once` is the ``lead()`` of the controllers' leader election
(:mod:`kawa.coordination.election`, wired by :mod:`kawa.runtime`): made anew each time this
node becomes leader, cancelled when leadership is lost or kawa stops.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from kawa.controllers import nodes
from kawa.controllers.apps import apps_controllers
from kawa.controllers.batch import batch_controllers
from kawa.controllers.endpoints import endpoints_controller
from kawa.controllers.eventing import eventing_controllers
from kawa.controllers.eventtransform import eventtransform_controller
from kawa.controllers.flows import flows_controllers
from kawa.controllers.garbage_collector import garbage_collector
from kawa.controllers.integrationsink import integrationsink_controller
from kawa.controllers.jobsink import jobsink_controller
from kawa.controllers.messaging import messaging_controllers
from kawa.controllers.namespaces import namespace_controller
from kawa.controllers.requestreply import requestreply_controller
from kawa.controllers.serving import serving_controllers
from kawa.delivery.sender import Dispatcher
from kawa.sources.apiserver import apiserver_sources
from kawa.sources.container import container_sources
from kawa.sources.integration import integration_sources
from kawa.sources.ping import ping_sources
from kawa.sources.sinkbinding import sink_bindings
from kawa.store.base import ResourceStore


class Config(Protocol):
    """The settings the leader's work reads (:class:`kawa.runtime.Config` has them)."""

    @property
    def node_name(self) -> str: ...
    @property
    def node_monitor_grace_period(self) -> float: ...
    @property
    def data_dir(self) -> Path: ...


async def run_once(
    store: ResourceStore,
    dispatcher: Dispatcher,
    config: Config,
    *,
    url: str,
    api_url: str,
    https_url: str = "",
    ca_certs: str = "",
) -> None:
    """What must run once across the nodes sharing a store, on the elected leader only: the
    garbage collector, the scheduler and node lifecycle controller, every controller and the
    sources (Ping ticks, IntegrationSource timers, ApiServerSource watches,
    ContainerSource and SinkBinding controllers); until cancelled (leadership lost, a stop).
    Made anew each time this node becomes leader."""
    async with asyncio.TaskGroup() as tg:
        collector = garbage_collector(store)
        tg.create_task(collector.run(), name=f"controller-{collector.name}")
        scheduling = nodes.NodeControllers(
            store, me=config.node_name, grace_period=config.node_monitor_grace_period
        )
        tg.create_task(scheduling.run(), name="controller-nodes")
        for controller in [
            namespace_controller(store),
            endpoints_controller(store),
            *eventing_controllers(
                store, ingress_base_url=url, https_base_url=https_url, ca_certs=ca_certs
            ),
            eventtransform_controller(
                store, ingress_base_url=url, https_base_url=https_url, ca_certs=ca_certs
            ),
            integrationsink_controller(
                store, ingress_base_url=url, https_base_url=https_url, ca_certs=ca_certs
            ),
            requestreply_controller(
                store, ingress_base_url=url, https_base_url=https_url, ca_certs=ca_certs
            ),
            jobsink_controller(
                store, ingress_base_url=url, https_base_url=https_url, ca_certs=ca_certs
            ),
            *messaging_controllers(
                store, ingress_base_url=url, https_base_url=https_url, ca_certs=ca_certs
            ),
            *flows_controllers(store),
            *serving_controllers(store, base_url=url),
            *batch_controllers(store),
            *apps_controllers(store),
        ]:
            tg.create_task(controller.run(), name=f"controller-{controller.name}")
        for source in [
            *apiserver_sources(store, dispatcher, data_dir=config.data_dir, api_url=api_url),
            *ping_sources(store, dispatcher, data_dir=config.data_dir),
            *integration_sources(store, dispatcher),
            *container_sources(store, tokens=dispatcher.tokens),
            *sink_bindings(store, tokens=dispatcher.tokens),
        ]:
            tg.create_task(source.run(), name=f"source-{source.name}")
