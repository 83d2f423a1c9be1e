"""The core API group (``""``, version ``v1``): Namespace, ServiceAccount, ConfigMap,
Secret, Event, Pod, Service and Endpoints, with the printer columns of Kubernetes'
server-side printers.

One module per kind, each declared once as models (:mod:`kawa.apis.model`): the parser,
defaults, update rules, schema and merge keys derive from them. The Pod's parts have modules
of their own -- :mod:`.containers` and :mod:`.probes` (shared with Knative's templates),
:mod:`.pod_spec`, and :mod:`.pod_status` (its status, the supervisor's helpers and ``kubectl
get pods`` cells); :mod:`.references` holds object references. :data:`KINDS` is what the
scheme registers.
"""

from __future__ import annotations

from typing import Final

from kawa.apis.core import configmap, endpoints, event, namespace, node, pod, pod_status, secret
from kawa.apis.core import service as svc
from kawa.apis.core import serviceaccount as sa
from kawa.apis.kinds import PrinterColumn, ResourceKind

GROUP: Final = ""
VERSION: Final = "v1"

AGE: Final = PrinterColumn("Age", "date", ".metadata.creationTimestamp")

NAMESPACE: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=namespace.KIND,
    plural="namespaces",
    singular="namespace",
    namespaced=False,
    model=namespace.Namespace,
    status=namespace.NamespaceStatus,
    short_names=("ns",),
    printer_columns=(PrinterColumn("Status", "string", ".status.phase"), AGE),
    selectable_fields=("status.phase",),
)

SERVICE_ACCOUNT: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=sa.KIND,
    plural="serviceaccounts",
    singular="serviceaccount",
    namespaced=True,
    model=sa.ServiceAccount,
    short_names=("sa",),
    printer_columns=(
        PrinterColumn(
            "Secrets",
            "integer",
            value=lambda obj: len(s) if isinstance(s := obj.get("secrets"), list) else 0,
        ),
        AGE,
    ),
    subresources=("token",),
)

CONFIG_MAP: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=configmap.KIND,
    plural="configmaps",
    singular="configmap",
    namespaced=True,
    model=configmap.ConfigMap,
    short_names=("cm",),
    printer_columns=(PrinterColumn("Data", "integer", value=configmap.data_count), AGE),
    subresources=(),
)

SECRET: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=secret.KIND,
    plural="secrets",
    singular="secret",
    namespaced=True,
    model=secret.Secret,
    printer_columns=(
        PrinterColumn("Type", "string", ".type"),
        PrinterColumn("Data", "integer", value=secret.data_count),
        AGE,
    ),
    subresources=(),
    selectable_fields=("type",),
)

EVENT: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=event.KIND,
    plural="events",
    singular="event",
    namespaced=True,
    model=event.Event,
    short_names=("ev",),
    printer_columns=(
        PrinterColumn("Last Seen", "date", value=event.last_seen),
        PrinterColumn("Type", "string", ".type"),
        PrinterColumn("Reason", "string", ".reason"),
        PrinterColumn("Object", "string", value=event.object_cell),
        PrinterColumn("Subobject", "string", value=event.subobject_cell, priority=1),
        PrinterColumn("Source", "string", value=event.source_cell, priority=1),
        PrinterColumn("Message", "string", ".message"),
        PrinterColumn("First Seen", "date", value=event.first_seen, priority=1),
        PrinterColumn("Count", "integer", value=event.count_cell, priority=1),
        PrinterColumn("Name", "string", ".metadata.name", priority=1),
    ),
    extra_api_versions=(event.EVENTS_API_VERSION,),
    convert=event.convert_event,
    subresources=(),
    selectable_fields=(
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        # events.k8s.io/v1 names (the same stored fields)
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reportingController",
    ),
)

POD: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=pod.KIND,
    plural="pods",
    singular="pod",
    namespaced=True,
    model=pod.Pod,
    status=pod_status.PodStatus,
    short_names=("po",),
    categories=("all",),
    printer_columns=(
        PrinterColumn("Ready", "string", value=pod_status.ready_cell),
        PrinterColumn("Status", "string", value=pod_status.status_cell),
        PrinterColumn("Restarts", "integer", value=pod_status.restarts_cell),
        AGE,
        PrinterColumn("IP", "string", value=pod_status.ip_cell, priority=1),
        PrinterColumn("Node", "string", value=pod_status.node_cell, priority=1),
        PrinterColumn("Nominated Node", "string", value=pod_status.nominated_node_cell, priority=1),
        PrinterColumn(
            "Readiness Gates", "string", value=pod_status.readiness_gates_cell, priority=1
        ),
    ),
    subresources=("status", "log", "exec", "portforward"),
    selectable_fields=(
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
)

SERVICE: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=svc.KIND,
    plural="services",
    singular="service",
    namespaced=True,
    model=svc.Service,
    status=svc.ServiceStatus,
    short_names=("svc",),
    categories=("all",),
    printer_columns=(
        PrinterColumn("Type", "string", value=svc.type_cell),
        PrinterColumn("Cluster-IP", "string", value=svc.cluster_ip_cell),
        PrinterColumn("External-IP", "string", value=svc.external_ip_cell),
        PrinterColumn("Port(s)", "string", value=svc.ports_cell),
        AGE,
        PrinterColumn("Selector", "string", value=svc.selector_cell, priority=1),
    ),
    selectable_fields=("spec.clusterIP", "spec.type"),
)

ENDPOINTS: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=endpoints.KIND,
    plural="endpoints",
    singular="endpoints",
    namespaced=True,
    model=endpoints.Endpoints,
    short_names=("ep",),
    printer_columns=(PrinterColumn("Endpoints", "string", value=endpoints.endpoints_cell), AGE),
    subresources=(),
)

NODE: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind=node.KIND,
    plural="nodes",
    singular="node",
    namespaced=False,
    model=node.Node,
    status=node.NodeStatus,
    short_names=("no",),
    printer_columns=(
        PrinterColumn("Status", "string", value=node.status_cell),
        PrinterColumn("Roles", "string", value=node.roles_cell),
        AGE,
        PrinterColumn("Version", "string", value=node.version_cell),
        PrinterColumn("Internal-IP", "string", value=node.internal_ip_cell, priority=1),
        PrinterColumn("External-IP", "string", value=node.external_ip_cell, priority=1),
        PrinterColumn("OS-Image", "string", value=node.os_image_cell, priority=1),
        PrinterColumn("Kernel-Version", "string", value=node.kernel_cell, priority=1),
        PrinterColumn("Container-Runtime", "string", value=node.runtime_cell, priority=1),
    ),
)

KINDS: Final = (
    NAMESPACE,
    SERVICE_ACCOUNT,
    CONFIG_MAP,
    SECRET,
    EVENT,
    POD,
    NODE,
    SERVICE,
    ENDPOINTS,
)
"""The core/v1 kinds kawa serves."""

__all__ = [
    "CONFIG_MAP",
    "ENDPOINTS",
    "EVENT",
    "GROUP",
    "KINDS",
    "NAMESPACE",
    "NODE",
    "POD",
    "SECRET",
    "SERVICE",
    "SERVICE_ACCOUNT",
    "VERSION",
]
