"""The apps/v1 control plane: Deployments roll out ReplicaSets, ReplicaSets keep Pods.

- :mod:`.replicaset`: a ReplicaSet's Pods (made from its template, adopted, deleted) and its
  status;
- :mod:`.deployment`: a Deployment's ReplicaSets (one per pod template, rolling updates,
  Recreate, revisions, history cleanup) and its status and conditions;
- :mod:`.rollout` and :mod:`.conditions`: the rollout's arithmetic and the Deployment's
  conditions (pure);
- :mod:`.common`: owner references, selection and Pod readiness both use.

The Pods themselves are run by kawa's kubelet (:mod:`kawa.serving.kubelet`); both meet in the
store. :func:`apps_controllers` builds the controllers for :mod:`kawa.runtime`.
"""

from __future__ import annotations

from kawa.apis.conditions import Clock, system_clock
from kawa.controllers.apps.deployment import deployment_controller
from kawa.controllers.apps.replicaset import replicaset_controller
from kawa.reconciler.loop import Controller
from kawa.store.base import ResourceStore


def apps_controllers(store: ResourceStore, *, clock: Clock = system_clock) -> list[Controller]:
    """The ReplicaSet and Deployment controllers, ready to ``run()``."""
    return [replicaset_controller(store, clock), deployment_controller(store, clock)]


__all__ = ["apps_controllers"]
