"""The OpenAPI v3 schema of a Pod (what ``kubectl explain pod`` shows).

Fields kawa runs (containers' command, args, env, ports, working directory) are typed;
fields kawa keeps but does not interpret (resources, probes, volumes, affinity...) preserve
unknown fields. Used by the Pod's declaration in :mod:`kawa.apis.core`.
"""

from __future__ import annotations

from typing import Final

from kawa.apis.core.fields import (
    Schema,
    s_any,
    s_bool,
    s_int,
    s_list,
    s_map,
    s_obj,
    s_str,
    s_strs,
    s_time,
)
from kawa.apis.core.pod import DNS_POLICIES, PHASES, PROTOCOLS, PULL_POLICIES, RESTART_POLICIES

_ENV_VAR: Final = s_obj(
    "An environment variable of the container's process.",
    {
        "name": s_str("Name of the variable."),
        "value": s_str("Value of the variable; $(OTHER) references are expanded."),
        "valueFrom": s_any(
            "Where to read the value from instead (a ConfigMap or Secret key, a field...)."
        ),
    },
    required=("name",),
)

_PORT: Final = s_obj(
    "A network port the container listens on.",
    {
        "containerPort": s_int("The port number.", minimum=1, maximum=65535),
        "protocol": s_str("TCP (the default), UDP or SCTP.", enum=PROTOCOLS),
        "name": s_str("A name for the port (an IANA service name), unique in the container."),
        "hostPort": s_int("A port of the host to expose the port on.", minimum=0, maximum=65535),
        "hostIP": s_str("The host IP to bind hostPort to."),
    },
    required=("containerPort",),
)


def _container(description: str) -> Schema:
    return s_obj(
        description,
        {
            "name": s_str("Name of the container (a DNS label), unique in the Pod."),
            "image": s_str("The image to run; kawa resolves it to a local program."),
            "command": s_strs("The entrypoint (the image's when empty)."),
            "args": s_strs("Arguments to the entrypoint."),
            "env": s_list("Environment variables of the process.", _ENV_VAR),
            "envFrom": s_list(
                "Sources (ConfigMaps, Secrets) whose keys become environment variables.",
                s_any("A ConfigMap or Secret to read variables from, with an optional prefix."),
            ),
            "ports": s_list("Ports the container listens on.", _PORT),
            "workingDir": s_str("The working directory of the process."),
            "resources": s_any("Compute resources requested and allowed (requests, limits)."),
            "readinessProbe": s_any("How to tell that the container is ready for traffic."),
            "livenessProbe": s_any("How to tell that the container must be restarted."),
            "startupProbe": s_any("How to tell that the container has started."),
            "imagePullPolicy": s_str(
                "When to pull the image: Always, IfNotPresent or Never.", enum=PULL_POLICIES
            ),
            "volumeMounts": s_list(
                "Volumes mounted into the container.",
                s_obj(
                    "A volume mounted at a path.",
                    {
                        "name": s_str("Name of a volume of the Pod."),
                        "mountPath": s_str("Where the volume appears in the container."),
                        "subPath": s_str("A path inside the volume to mount instead of its root."),
                        "readOnly": s_bool("Whether the mount is read-only."),
                    },
                    required=("name", "mountPath"),
                ),
            ),
            "securityContext": s_any("Security options of the container."),
            "lifecycle": s_any("Actions run after start and before stop."),
            "terminationMessagePath": s_str("A file the process may write its last words to."),
            "terminationMessagePolicy": s_str("File, or FallbackToLogsOnError."),
            "stdin": s_bool("Whether the container has a standard input."),
            "tty": s_bool("Whether the container has a terminal."),
        },
        required=("name", "image"),
    )


_STATE: Final = s_obj(
    "What the container is doing: one of waiting, running or terminated.",
    {
        "waiting": s_obj(
            "The container is not running yet.",
            {
                "reason": s_str("Why (ContainerCreating, CrashLoopBackOff...)."),
                "message": s_str("Details."),
            },
        ),
        "running": s_obj(
            "The container is running.", {"startedAt": s_time("When it last started.")}
        ),
        "terminated": s_obj(
            "The container has exited.",
            {
                "exitCode": s_int("The process's exit code."),
                "signal": s_int("The signal that ended the process, if any."),
                "reason": s_str("Why (Completed, Error, OOMKilled...)."),
                "message": s_str("Details."),
                "startedAt": s_time("When it started."),
                "finishedAt": s_time("When it exited."),
            },
        ),
    },
)

_CONTAINER_STATUS: Final = s_obj(
    "The observed state of one container.",
    {
        "name": s_str("Name of the container."),
        "ready": s_bool("Whether the container passes its readiness probe."),
        "started": s_bool("Whether the container has started."),
        "restartCount": s_int("How many times the container has been restarted.", minimum=0),
        "image": s_str("The image the container runs."),
        "imageID": s_str("The exact image the container runs."),
        "containerID": s_str("The runtime's id of the container (a process id for kawa)."),
        "state": _STATE,
        "lastState": _STATE | {"description": "The container's previous state."},
    },
    required=("name",),
)

SCHEMA: Final = s_obj(
    "A Pod: a group of containers run together on one node (by kawa, as local processes).",
    {
        "spec": s_obj(
            "The desired Pod; immutable after creation except container images and a few "
            "scheduling fields.",
            {
                "containers": s_list(
                    "The Pod's containers (at least one).", _container("A container of the Pod.")
                ),
                "initContainers": s_list(
                    "Containers run to completion, in order, before the others start.",
                    _container("An init container of the Pod."),
                ),
                "restartPolicy": s_str(
                    "When to restart exited containers: Always (the default), OnFailure or Never.",
                    enum=RESTART_POLICIES,
                ),
                "terminationGracePeriodSeconds": s_int(
                    "Seconds between the stop signal and the kill (default 30).", minimum=0
                ),
                "activeDeadlineSeconds": s_int(
                    "Seconds the Pod may run before it is failed.", minimum=1
                ),
                "serviceAccountName": s_str("The ServiceAccount the Pod runs as (default)."),
                "nodeName": s_str("The node the Pod is bound to."),
                "dnsPolicy": s_str("How the Pod resolves names.", enum=DNS_POLICIES),
                "schedulerName": s_str("The scheduler that places the Pod."),
                "volumes": s_list(
                    "Volumes the containers may mount.",
                    s_obj(
                        "A named volume; its source fields are kept as given.",
                        {"name": s_str("Name of the volume (a DNS label), unique in the Pod.")},
                        required=("name",),
                    )
                    | {"x-kubernetes-preserve-unknown-fields": True},
                ),
                "imagePullSecrets": s_list(
                    "Secrets with credentials for pulling the images.",
                    s_obj("A Secret by name.", {"name": s_str("Name of the Secret.")}),
                ),
                "tolerations": s_list("Taints of nodes the Pod tolerates.", s_any("A toleration.")),
                "nodeSelector": s_map("Labels a node must have to run the Pod."),
                "affinity": s_any("Scheduling constraints relative to nodes and other Pods."),
                "securityContext": s_any("Security options of the whole Pod."),
                "readinessGates": s_list(
                    "Extra conditions that must be True for the Pod to be Ready.",
                    s_obj(
                        "A readiness gate.",
                        {"conditionType": s_str("The condition type in status.conditions.")},
                    ),
                ),
                "hostname": s_str("The Pod's host name (its name when empty)."),
                "subdomain": s_str("The Pod's DNS subdomain."),
                "enableServiceLinks": s_bool(
                    "Whether Services' addresses are put in environment variables."
                ),
            },
            required=("containers",),
        ),
        "status": s_obj(
            "The observed state of the Pod.",
            {
                "phase": s_str("Where the Pod is in its life.", enum=PHASES),
                "conditions": s_list(
                    "PodScheduled, Initialized, ContainersReady and Ready.",
                    s_obj(
                        "A condition of the Pod.",
                        {
                            "type": s_str("The condition's type."),
                            "status": s_str("True, False or Unknown."),
                            "reason": s_str("A CamelCase reason for the status."),
                            "message": s_str("A human-readable explanation."),
                            "lastProbeTime": s_time("When the condition was last probed."),
                            "lastTransitionTime": s_time("When the status last changed."),
                        },
                    ),
                ),
                "containerStatuses": s_list("One entry per container.", _CONTAINER_STATUS),
                "initContainerStatuses": s_list("One entry per init container.", _CONTAINER_STATUS),
                "podIP": s_str("The Pod's IP address."),
                "podIPs": s_list(
                    "The Pod's IP addresses.",
                    s_obj("An IP address.", {"ip": s_str("The address.")}),
                ),
                "hostIP": s_str("The IP address of the Pod's node."),
                "startTime": s_time("When the node started the Pod."),
                "reason": s_str("Why the Pod is in its phase (such as Evicted)."),
                "message": s_str("Details about the Pod's phase."),
                "nominatedNodeName": s_str("A node the scheduler plans to run the Pod on."),
                "qosClass": s_str("The Pod's quality of service class."),
            },
        ),
    },
)
