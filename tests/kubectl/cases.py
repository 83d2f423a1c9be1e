"""One valid manifest per kind kawa serves, and how the lifecycle test changes it.

Each :class:`KindCase` names a kind as kubectl would, its manifest, one field the test
changes three ways (``kubectl apply`` of an edited manifest, ``kubectl patch`` with the
kind's default or merge type, ``kubectl patch --type json``), the columns ``kubectl get``
prints, and the ``Ready`` condition an honest kawa reports for it now.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Final

NS: Final = "kinds"
BROKER: Final = "kept"
"""A Broker the namespace fixture creates (the Broker case deletes its own)."""
CHANNEL: Final = "kept-channel"
"""An InMemoryChannel the namespace fixture creates, for the Subscription case."""
SINK: Final = "http://127.0.0.1:9/"
IMAGE: Final = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
KNATIVE: Final = ["AGE", "READY", "REASON"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class KindCase:
    kind: str
    resource: str
    """What to type after ``kubectl get`` (a plural, short name or plural.group)."""
    manifest: dict[str, Any]
    path: Path
    """The field the test changes (a path into the object)."""
    values: tuple[Any, Any, Any]
    """Its value after the re-apply, after ``kubectl patch``, after the JSON patch."""
    columns: list[str]
    ready: str | None = None
    """``True``, ``Unknown/NotImplemented``, or ``None`` for kinds without conditions."""
    builtin: bool = False
    patch: dict[str, Any] | None = None
    """The body of ``kubectl patch`` (default: a merge patch setting ``path``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    """What identifies the object's row in ``kubectl get`` (default: its name)."""

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def row(self) -> str:
        return self.token or self.name

    @property
    def namespaced(self) -> bool:
        return "namespace" in self.manifest["metadata"]

    def scope(self) -> tuple[str, ...]:
        return ("-n", NS) if self.namespaced else ()

    def changed(self) -> dict[str, Any]:
        return set_at(copy.deepcopy(self.manifest), self.path, self.values[0])

    def patch_body(self) -> dict[str, Any]:
        if self.patch is not None:
            return self.patch
        body: Any = self.values[1]
        for key in reversed(self.path):
            assert isinstance(key, str), "give the case a patch body"
            body = {key: body}
        return dict(body)

    def json_patch(self) -> list[dict[str, Any]]:
        pointer = "/" + "/".join(str(k) for k in self.path)
        return [
            {"op": "test", "path": pointer, "value": self.values[1]},
            {"op": "replace", "path": pointer, "value": self.values[2]},
        ]


def get_at(obj: Any, path: Path) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def set_at(obj: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    node: Any = obj
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = value
    return obj


def _obj(api_version: str, kind: str, name: str, namespaced: bool = True, **rest: Any) -> Any:
    metadata: dict[str, Any] = {"name": name}
    if namespaced:
        metadata["namespace"] = NS
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **rest}


def _rules(*verbs: str) -> list[dict[str, Any]]:
    return [{"apiGroups": [""], "resources": ["events"], "verbs": list(verbs)}]


def _subjects(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "ServiceAccount", "name": n, "namespace": NS} for n in names]


_TEMPLATE: Final = {"spec": {"containers": [{"name": "user-container", "image": IMAGE}]}}

CASES: Final = (
    KindCase(
        "Broker",
        "brokers",
        _obj("eventing.knative.dev/v1", "Broker", "kb"),
        ("spec", "delivery", "retry"),
        (1, 2, 3),
        ["NAME", "URL", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "Trigger",
        "triggers",
        _obj(
            "eventing.knative.dev/v1",
            "Trigger",
            "kt",
            spec={
                "broker": BROKER,
                "filter": {"attributes": {"type": "a"}},
                "subscriber": {"uri": SINK},
            },
        ),
        ("spec", "filter", "attributes", "type"),
        ("dev.b", "dev.c", "dev.d"),
        ["NAME", "BROKER", "SUBSCRIBER_URI", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "EventType",
        "eventtypes",
        _obj(
            "eventing.knative.dev/v1beta3",
            "EventType",
            "ket",
            spec={
                "reference": {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "name": BROKER,
                },
                "description": "first",
                "attributes": [
                    {"name": "type", "value": "dev.example", "required": True},
                    {"name": "source", "required": True},
                    {"name": "specversion", "value": "1.0", "required": True},
                    {"name": "id", "required": True},
                ],
            },
        ),
        ("metadata", "annotations", "owner"),  # the spec is immutable
        ("b", "c", "d"),
        ["NAME", "REFERENCE NAME", "REFERENCE KIND", "DESCRIPTION", "READY", "REASON"],
        ready="True",
    ),
    KindCase(
        "EventPolicy",
        "eventpolicies",
        _obj(
            "eventing.knative.dev/v1alpha1",
            "EventPolicy",
            "kep",
            spec={
                "to": [
                    {
                        "ref": {
                            "apiVersion": "eventing.knative.dev/v1",
                            "kind": "Broker",
                            "name": BROKER,
                        }
                    }
                ],
                "from": [{"sub": "a"}],
            },
        ),
        ("spec", "from", 0, "sub"),
        ("system:serviceaccount:kinds:b", "system:serviceaccount:kinds:*", "d"),
        ["NAME", "READY", "REASON"],
        ready="False/AuthOIDCFeatureNotEnabled",  # authentication-oidc is off by default
        patch={"spec": {"from": [{"sub": "system:serviceaccount:kinds:*"}]}},
    ),
    KindCase(
        "EventTransform",
        "eventtransforms",
        _obj(
            "eventing.knative.dev/v1alpha1",
            "EventTransform",
            "ket",
            spec={"jsonata": {"expression": "$"}},
        ),
        ("spec", "jsonata", "expression"),
        ('$merge([$, {"a": "b"}])', '$merge([$, {"a": "c"}])', '$merge([$, {"a": "d"}])'),
        ["NAME", "URL", "SINK", "READY", "REASON"],
        ready="True",
    ),
    KindCase(
        "RequestReply",
        "requestreplies",
        _obj(
            "eventing.knative.dev/v1alpha1",
            "RequestReply",
            "krr",
            spec={
                "brokerRef": {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "name": BROKER,
                }
            },
        ),
        ("spec", "timeout"),
        ("PT10S", "PT20S", "PT30S"),
        ["NAME", "URL", "READY", "REASON"],
        ready="True",
    ),
    KindCase(
        "JobSink",
        "jobsinks",
        _obj(
            "sinks.knative.dev/v1alpha1",
            "JobSink",
            "kjs",
            spec={
                "job": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": "main",
                                        "image": "busybox",
                                        "command": ["true"],
                                        # as defaulted: a re-apply changes nothing
                                        "env": [
                                            {"name": "KNATIVE_EXECUTION_MODE", "value": "batch"}
                                        ],
                                    }
                                ],
                            }
                        }
                    }
                }
            },
        ),
        ("spec", "job", "spec", "backoffLimit"),
        (1, 2, 3),
        ["NAME", "URL", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "Channel",
        "channels.messaging.knative.dev",
        _obj("messaging.knative.dev/v1", "Channel", "kch"),
        ("spec", "delivery", "retry"),
        (1, 2, 3),
        ["NAME", "URL", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "InMemoryChannel",
        "imc",
        _obj("messaging.knative.dev/v1", "InMemoryChannel", "kimc"),
        ("spec", "delivery", "retry"),
        (1, 2, 3),
        ["NAME", "URL", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "Subscription",
        "sub",
        _obj(
            "messaging.knative.dev/v1",
            "Subscription",
            "ksub",
            spec={
                "channel": {
                    "apiVersion": "messaging.knative.dev/v1",
                    "kind": "InMemoryChannel",
                    "name": CHANNEL,
                },
                "subscriber": {"uri": SINK},
            },
        ),
        ("spec", "subscriber", "uri"),
        (SINK + "b", SINK + "c", SINK + "d"),
        ["NAME", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "Sequence",
        "sequences",
        _obj("flows.knative.dev/v1", "Sequence", "kseq", spec={"steps": [{"uri": SINK}]}),
        ("spec", "reply", "uri"),
        (SINK + "b", SINK + "c", SINK + "d"),
        ["NAME", "URL", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "Parallel",
        "parallels",
        _obj(
            "flows.knative.dev/v1",
            "Parallel",
            "kpar",
            spec={"branches": [{"subscriber": {"uri": SINK}}]},
        ),
        ("spec", "reply", "uri"),
        (SINK + "b", SINK + "c", SINK + "d"),
        ["NAME", "URL", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "PingSource",
        "pingsources",
        _obj(
            "sources.knative.dev/v1",
            "PingSource",
            "kping",
            spec={"schedule": "0 0 1 1 *", "data": "a", "sink": {"uri": SINK}},
        ),
        ("spec", "data"),
        ("b", "c", "d"),
        ["NAME", "SINK", "SCHEDULE", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "IntegrationSource",
        "integrationsources",
        _obj(
            "sources.knative.dev/v1alpha1",
            "IntegrationSource",
            "kintsrc",
            spec={"timer": {"period": 3600000, "message": "a"}, "sink": {"uri": SINK}},
        ),
        ("spec", "timer", "message"),
        ("b", "c", "d"),
        ["NAME", "SINK", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "IntegrationSink",
        "integrationsinks",
        _obj("sinks.knative.dev/v1alpha1", "IntegrationSink", "kintsink", spec={"log": {}}),
        ("spec", "log", "loggerName"),
        ("b", "c", "d"),
        ["NAME", "URL", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "ApiServerSource",
        "apiserversources.sources.knative.dev",
        _obj(
            "sources.knative.dev/v1",
            "ApiServerSource",
            "kapi",
            spec={
                "mode": "Reference",
                "resources": [{"apiVersion": "v1", "kind": "Event"}],
                "sink": {"uri": SINK},
            },
        ),
        ("spec", "sink", "uri"),
        (SINK + "b", SINK + "c", SINK + "d"),
        ["NAME", "SINK", *KNATIVE],
        ready="False/InsufficientPermissions",
    ),
    KindCase(
        "ContainerSource",
        "containersources",
        _obj(
            "sources.knative.dev/v1",
            "ContainerSource",
            "kcs",
            spec={
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}
                        ]
                    }
                },
                "sink": {"uri": SINK},
            },
        ),
        ("spec", "sink", "uri"),
        (SINK + "b", SINK + "c", SINK + "d"),
        ["NAME", "SINK", *KNATIVE],
        ready="True",
    ),
    KindCase(
        "SinkBinding",
        "sinkbindings",
        _obj(
            "sources.knative.dev/v1",
            "SinkBinding",
            "ksb",
            spec={
                "subject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                "sink": {"uri": SINK},
            },
        ),
        ("spec", "sink", "uri"),
        (SINK + "b", SINK + "c", SINK + "d"),
        ["NAME", "SINK", *KNATIVE],
        ready="False/SubjectMissing",  # a supported kind (apps/v1 Deployment), none named d
    ),
    KindCase(
        "Service",
        "ksvc",
        _obj("serving.knative.dev/v1", "Service", "ksvc", spec={"template": _TEMPLATE}),
        ("spec", "template", "spec", "timeoutSeconds"),
        (100, 200, 250),
        ["NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"],
        ready="True",
    ),
    KindCase(
        "Configuration",
        "configurations",
        _obj("serving.knative.dev/v1", "Configuration", "kcfg", spec={"template": _TEMPLATE}),
        ("spec", "template", "spec", "timeoutSeconds"),
        (100, 200, 250),
        ["NAME", "LATESTCREATED", "LATESTREADY", "READY", "REASON"],
        ready="True",
    ),
    KindCase(
        "Revision",
        "rev",
        _obj(
            "serving.knative.dev/v1",
            "Revision",
            "krev",
            spec={"containers": [{"name": "user-container", "image": IMAGE}]},
        ),
        ("metadata", "annotations", "owner"),  # the spec is immutable
        ("b", "c", "d"),
        [
            "NAME",
            "CONFIG NAME",
            "GENERATION",
            "READY",
            "REASON",
            "ACTUAL REPLICAS",
            "DESIRED REPLICAS",
        ],
        ready="True",
    ),
    KindCase(
        "Route",
        "routes",
        _obj(
            "serving.knative.dev/v1",
            "Route",
            "krt",
            spec={"traffic": [{"revisionName": "krev", "percent": 100, "latestRevision": False}]},
        ),
        ("spec", "traffic"),
        (
            [{"revisionName": "krev", "percent": 100, "latestRevision": False, "tag": "a"}],
            [{"revisionName": "krev", "percent": 100, "latestRevision": False, "tag": "b"}],
            [{"revisionName": "krev", "percent": 100, "latestRevision": False, "tag": "c"}],
        ),
        ["NAME", "URL", "READY", "REASON"],
        ready="False/RevisionMissing",  # its Revision "krev" is gone (deleted by its own case)
    ),
    KindCase(
        "Namespace",
        "ns",
        _obj("v1", "Namespace", "kinds-ns", namespaced=False),
        ("metadata", "annotations", "owner"),
        ("b", "c", "d"),
        ["NAME", "STATUS", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Node",
        "no",
        _obj("v1", "Node", "knode", namespaced=False),
        ("metadata", "annotations", "owner"),
        ("b", "c", "d"),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        builtin=True,
    ),
    KindCase(
        "ServiceAccount",
        "sa",
        _obj("v1", "ServiceAccount", "ksa", secrets=[{"name": "s1"}]),
        ("automountServiceAccountToken",),
        (True, False, True),
        ["NAME", "SECRETS", "AGE"],
        builtin=True,
        # strategic: secrets merge by name, so s2 is added next to s1
        patch={"automountServiceAccountToken": False, "secrets": [{"name": "s2"}]},
        extra={"merged": (("secrets",), [{"name": "s1"}, {"name": "s2"}])},
    ),
    KindCase(
        "ConfigMap",
        "cm",
        _obj("v1", "ConfigMap", "kcm", data={"a": "1"}),
        ("data", "a"),
        ("2", "3", "4"),
        ["NAME", "DATA", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Secret",
        "secrets",
        _obj("v1", "Secret", "ksec", type="Opaque", data={"a": "MQ=="}),
        ("data", "a"),
        ("Mg==", "Mw==", "NA=="),
        ["NAME", "TYPE", "DATA", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Event",
        "events",
        _obj(
            "v1",
            "Event",
            "kev",
            involvedObject={"apiVersion": "v1", "kind": "Pod", "name": "kpod", "namespace": NS},
            reason="Testing",
            message="first",
            type="Normal",
        ),
        ("message",),
        ("second", "third", "fourth"),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        builtin=True,
        token="pod/kpod",
    ),
    KindCase(
        "Pod",
        "pods",
        _obj(
            "v1",
            "Pod",
            "kpod",
            spec={
                "containers": [
                    {"name": "a", "image": "busybox:1", "command": ["sleep", "3600"]},
                    {"name": "b", "image": "busybox:1", "command": ["sleep", "3600"]},
                ]
            },
        ),
        ("spec", "containers", 1, "image"),
        ("busybox:2", "busybox:3", "busybox:4"),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        builtin=True,
        # strategic: containers merge by name, container a keeps its image
        patch={"spec": {"containers": [{"name": "b", "image": "busybox:3"}]}},
        extra={"merged": (("spec", "containers", 0, "image"), "busybox:1")},
    ),
    KindCase(
        "Job",
        "jobs",
        _obj(
            "batch/v1",
            "Job",
            "kjob",
            spec={
                "suspend": True,  # stored and listed, never run
                "template": {
                    "spec": {
                        "containers": [{"name": "a", "image": "busybox", "command": ["true"]}],
                        "restartPolicy": "Never",
                    }
                },
            },
        ),
        ("spec", "backoffLimit"),
        (2, 3, 4),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        builtin=True,
    ),
    KindCase(
        "CronJob",
        "cj",
        _obj(
            "batch/v1",
            "CronJob",
            "kcron",
            spec={
                "schedule": "0 3 * * *",
                "suspend": True,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "a", "image": "busybox", "command": ["true"]}
                                ],
                                "restartPolicy": "OnFailure",
                            }
                        }
                    }
                },
            },
        ),
        ("spec", "schedule"),
        ("0 4 * * *", "0 5 * * *", "0 6 * * *"),
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Service",
        "svc",
        _obj(
            "v1",
            "Service",
            "kweb",
            spec={"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]},
        ),
        ("spec", "selector", "app"),
        ("b", "c", "d"),
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Endpoints",
        "ep",
        _obj(
            "v1",
            "Endpoints",
            "kep",
            # protocol as the server defaults it: the list is replaced whole by a patch
            subsets=[
                {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 8080, "protocol": "TCP"}]}
            ],
        ),
        ("subsets", 0, "ports", 0, "port"),
        (8081, 8082, 8083),
        ["NAME", "ENDPOINTS", "AGE"],
        builtin=True,
        patch={
            "subsets": [
                {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 8082, "protocol": "TCP"}]}
            ]
        },
    ),
    KindCase(
        "EndpointSlice",
        "endpointslices",
        _obj(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "keps",
            addressType="IPv4",
            endpoints=[{"addresses": ["127.0.0.1"]}],
            ports=[{"name": "http", "port": 8080, "protocol": "TCP"}],
        ),
        ("ports", 0, "port"),
        (8081, 8082, 8083),
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        builtin=True,
        patch={"ports": [{"name": "http", "port": 8082, "protocol": "TCP"}]},
    ),
    KindCase(
        "Lease",
        "leases",
        _obj(
            "coordination.k8s.io/v1",
            "Lease",
            "klease",
            spec={"holderIdentity": "node-a", "leaseDurationSeconds": 15},
        ),
        ("spec", "holderIdentity"),
        ("node-b", "node-c", "node-d"),
        ["NAME", "HOLDER", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Role",
        "roles",
        _obj("rbac.authorization.k8s.io/v1", "Role", "krole", rules=_rules("get")),
        ("rules",),
        (_rules("get", "list"), _rules("watch"), _rules("get", "watch")),
        ["NAME", "CREATED AT"],
        builtin=True,
    ),
    KindCase(
        "ClusterRole",
        "clusterroles",
        _obj(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "kinds-crole",
            namespaced=False,
            rules=_rules("get"),
        ),
        ("rules",),
        (_rules("get", "list"), _rules("watch"), _rules("get", "watch")),
        ["NAME", "CREATED AT"],
        builtin=True,
    ),
    KindCase(
        "RoleBinding",
        "rolebindings",
        _obj(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "krb",
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "krole"},
            subjects=_subjects("a"),
        ),
        ("subjects",),
        (_subjects("a", "b"), _subjects("c"), _subjects("d")),
        ["NAME", "ROLE", "AGE"],
        builtin=True,
    ),
    KindCase(
        "ClusterRoleBinding",
        "clusterrolebindings",
        _obj(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "kinds-crb",
            namespaced=False,
            roleRef={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "kinds-crole",
            },
            subjects=_subjects("a"),
        ),
        ("subjects",),
        (_subjects("a", "b"), _subjects("c"), _subjects("d")),
        ["NAME", "ROLE", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Deployment",
        "deploy",
        _obj(
            "apps/v1",
            "Deployment",
            "kdeploy",
            spec={
                "replicas": 0,
                "selector": {"matchLabels": {"app": "kdeploy"}},
                "template": {
                    "metadata": {"labels": {"app": "kdeploy"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        ),
        ("spec", "revisionHistoryLimit"),
        (5, 6, 7),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        builtin=True,
    ),
    KindCase(
        "ReplicaSet",
        "rs",
        _obj(
            "apps/v1",
            "ReplicaSet",
            "krs",
            spec={
                "replicas": 0,
                "selector": {"matchLabels": {"app": "krs"}},
                "template": {
                    "metadata": {"labels": {"app": "krs"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        ),
        ("spec", "minReadySeconds"),
        (1, 2, 3),
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        builtin=True,
    ),
    KindCase(
        "Replay",
        "replays",
        _obj(
            "kawa.dev/v1alpha1",
            "Replay",
            "kreplay",
            spec={"broker": BROKER, "trigger": "none", "from": "2026-01-01T00:00:00Z"},
        ),
        ("spec", "cancelled"),
        (True, False, True),
        ["NAME", "BROKER", "TRIGGER", "PROGRESS", "SUCCEEDED", "READY", "REASON", "AGE"],
        ready="False/TriggerNotFound",
    ),
)
