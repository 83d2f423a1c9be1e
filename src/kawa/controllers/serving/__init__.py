"""The Knative Serving control plane: Service -> Configuration -> Revision -> Route.

- :mod:`.service`: a Service's Configuration and Route, and its status from theirs;
- :mod:`.configuration`: one Revision per template change, latest created/ready Revisions;
- :mod:`.revision`: a Revision's status from its Pods and its image;
- :mod:`.route`: a Route's URLs and its traffic resolved to ready Revisions.

Deleting a Service deletes its Configuration and Route, a Configuration its Revisions, a
Revision its Pods: they name their owners in ``ownerReferences``, and kawa's garbage
collector (:mod:`kawa.controllers.garbage_collector`) does the rest, as Kubernetes' does.

The data plane (Pods of Revisions, request routing, autoscaling) is :mod:`kawa.serving`'s;
both meet in the store. :func:`serving_controllers` builds the controllers for
:mod:`kawa.runtime`.
"""

from __future__ import annotations

from kawa.apis.conditions import Clock, system_clock
from kawa.controllers.serving.configuration import configuration_controller
from kawa.controllers.serving.revision import revision_controller
from kawa.controllers.serving.route import route_controller
from kawa.controllers.serving.service import service_controller
from kawa.reconciler.loop import Controller
from kawa.store.base import ResourceStore


def serving_controllers(
    store: ResourceStore, *, base_url: str, clock: Clock = system_clock
) -> list[Controller]:
    """The Service, Configuration, Revision and Route controllers,
    ready to ``run()``; Routes are served under ``<base_url>/serving/<namespace>/<name>``."""
    return [
        service_controller(store, clock),
        configuration_controller(store, clock),
        revision_controller(store, clock),
        route_controller(store, base_url, clock),
    ]


__all__ = ["serving_controllers"]
