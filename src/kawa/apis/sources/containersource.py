"""The ContainerSource kind (sources.knative.dev/v1): a container that produces events.

``spec.template`` is a core/v1 PodTemplateSpec (:class:`~kawa.apis.core.pod_spec.
PodTemplateSpec`: the Pod's rules hold, as for a Pod; its containers' names default to
``<source name>-<index>``; the Pod's own defaults are not written into the source, they are
the Pod's when it is made), plus the ``sink`` and ``ceOverrides`` of every source
(:class:`~kawa.apis.duck.SourceSpec`); the container gets ``K_SINK`` (the resolved sink) and
``K_CE_OVERRIDES`` in its environment. Conditions ``SinkBindingReady`` and
``ReceiveAdapterReady`` behind ``Ready``. Declared in :data:`kawa.apis.sources.KINDS`; read by
the ContainerSource reconciler (:mod:`kawa.sources.container`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from kawa.apis import duck, meta
from kawa.apis.conditions import ConditionSet
from kawa.apis.core.pod_spec import PodTemplateSpec
from kawa.apis.model.base import AS_WRITTEN, Context, doc
from kawa.apis.model.objects import KubeObject, default_object, parse_object

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = "sources.knative.dev/v1"
KIND: Final = "ContainerSource"

SINK_BINDING_READY: Final = "SinkBindingReady"
RECEIVE_ADAPTER_READY: Final = "ReceiveAdapterReady"
CONTAINERSOURCE_CONDITIONS: Final = ConditionSet((SINK_BINDING_READY, RECEIVE_ADAPTER_READY))


class ContainerSourceSpec(duck.SourceSpec):
    """Runs a container that sends events to the sink (K_SINK in its environment)."""

    template: Annotated[PodTemplateSpec, doc("The pod to run."), AS_WRITTEN]


class ContainerSource(KubeObject):
    """A ContainerSource runs a container that sends events to its sink."""

    spec: Annotated[
        ContainerSourceSpec,
        doc("Runs a container that sends events to the sink (K_SINK in its environment)."),
    ]

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """Containers without a name are named ``<source name>-<index>`` (Knative's
        SetDefaults)."""
        spec = data.get("spec")
        template = spec.get("template") if isinstance(spec, dict) else None
        pod = template.get("spec") if isinstance(template, dict) else None
        containers = pod.get("containers") if isinstance(pod, dict) else None
        name = meta.metadata_of(data).get("name")
        if not isinstance(name, str) or not isinstance(containers, list):
            return
        for i, container in enumerate(containers):
            if isinstance(container, dict) and not container.get("name"):
                container["name"] = f"{name}-{i}"


def default_containersource(obj: Mapping[str, Any]) -> meta.Object:
    """A copy with container names defaulted (``<name>-<index>``) and the sink's namespace."""
    return default_object(ContainerSource, obj, namespaced=True)


def parse_containersource(obj: Mapping[str, Any]) -> ContainerSource:
    """``obj`` defaulted, validated and typed; raises :class:`~kawa.errors.ValidationError`
    (subject ``"ContainerSource <namespace>/<name>"``) listing every problem."""
    return parse_object(
        ContainerSource, obj, kind=KIND, api_versions=(API_VERSION,), namespaced=True
    )
