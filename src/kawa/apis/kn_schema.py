"""Builders for the OpenAPI v3 structural schemas of kinds, and the shared duck-type schemas.

A kind's ``SCHEMA`` (served for ``kubectl explain``) is built from these small functions so
that every property has a ``type`` and a ``description``: :func:`string`, :func:`integer`,
:func:`boolean`, :func:`obj`, :func:`array`, :func:`string_map`, :func:`free` (an arbitrary
object: ``x-kubernetes-preserve-unknown-fields``). The duck types shared by Knative kinds
(KReference, Destination, CloudEventOverrides, LabelSelector, a Pod template, the status
with conditions) are here too. Called at import time by the kinds' modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Schema = dict[str, Any]


def string(description: str, *, enum: Iterable[str] = (), fmt: str = "") -> Schema:
    out: Schema = {"type": "string", "description": description}
    values = list(enum)
    if values:
        out["enum"] = values
    if fmt:
        out["format"] = fmt
    return out


def integer(description: str, *, minimum: int | None = None, maximum: int | None = None) -> Schema:
    out: Schema = {"type": "integer", "format": "int64", "description": description}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def boolean(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def obj(
    description: str, properties: Mapping[str, Schema], *, required: Iterable[str] = ()
) -> Schema:
    out: Schema = {"type": "object", "description": description, "properties": dict(properties)}
    names = list(required)
    if names:
        out["required"] = names
    return out


def array(description: str, items: Schema) -> Schema:
    return {"type": "array", "description": description, "items": items}


def string_map(description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {"type": "string", "description": "A value."},
    }


def free(description: str) -> Schema:
    """An object whose fields kawa keeps as given (not validated here)."""
    return {
        "type": "object",
        "description": description,
        "x-kubernetes-preserve-unknown-fields": True,
    }


def kind_schema(spec: Schema, status: Schema) -> Schema:
    """The schema of a whole object: its ``spec`` and ``status``."""
    return {"type": "object", "properties": {"spec": spec, "status": status}}


# -- duck types ----------------------------------------------------------------------------


def kreference(description: str) -> Schema:
    return obj(
        description,
        {
            "apiVersion": string("API version of the referenced object (group/version)."),
            "kind": string("Kind of the referenced object."),
            "name": string("Name of the referenced object."),
            "namespace": string(
                "Namespace of the referenced object; defaults to the namespace of the "
                "object holding the reference."
            ),
        },
        required=("apiVersion", "kind", "name"),
    )


def destination(description: str) -> Schema:
    return obj(
        description,
        {
            "ref": kreference("An addressable object; events go to its status.address.url."),
            "uri": string(
                "An absolute URL, or a URL relative to the address of ref when ref is set."
            ),
        },
    )


CE_OVERRIDES_DESCRIPTION = "Changes applied to every event the source sends."


def ce_overrides() -> Schema:
    return obj(
        CE_OVERRIDES_DESCRIPTION,
        {
            "extensions": string_map(
                "Extension attributes added to every event (lower-case alphanumeric names)."
            )
        },
    )


def label_selector(description: str) -> Schema:
    return obj(
        description,
        {
            "matchLabels": string_map("Labels an object must have, with these values."),
            "matchExpressions": array(
                "Requirements on labels, all of which must hold.",
                obj(
                    "One requirement on a label.",
                    {
                        "key": string("The label key."),
                        "operator": string(
                            "How the label relates to the values.",
                            enum=("In", "NotIn", "Exists", "DoesNotExist"),
                        ),
                        "values": array(
                            "The values (non-empty for In and NotIn, empty otherwise).",
                            string("A label value."),
                        ),
                    },
                    required=("key", "operator"),
                ),
            ),
        },
    )


def container() -> Schema:
    return obj(
        "A container of the pod.",
        {
            "name": string("The container's name (a DNS-1123 label)."),
            "image": string("The container image."),
            "command": array("The entrypoint.", string("An argument.")),
            "args": array("Arguments to the entrypoint.", string("An argument.")),
            "workingDir": string("The working directory."),
            "env": array(
                "Environment variables.",
                obj(
                    "An environment variable.",
                    {
                        "name": string("The variable's name."),
                        "value": string("The variable's value."),
                        "valueFrom": free("Where the value comes from (a secret, ...)."),
                    },
                    required=("name",),
                ),
            ),
            "envFrom": array("Sources of environment variables.", free("A source.")),
            "ports": array(
                "Ports the container listens on.",
                obj(
                    "A port.",
                    {
                        "name": string("The port's name."),
                        "containerPort": integer("The port number.", minimum=1, maximum=65535),
                        "protocol": string("TCP, UDP or SCTP."),
                    },
                ),
            ),
            "resources": free("Compute resources: requests and limits."),
            "readinessProbe": free("When the container is ready for traffic."),
            "livenessProbe": free("When the container is restarted."),
            "volumeMounts": array("Volumes mounted in the container.", free("A mount.")),
            "imagePullPolicy": string("When the image is pulled: Always, IfNotPresent, Never."),
            "securityContext": free("Security options of the container."),
        },
    )


def pod_spec(description: str) -> Schema:
    return obj(
        description,
        {
            "containers": array("The containers of the pod.", container()),
            "serviceAccountName": string("The service account the pod runs as."),
            "volumes": array("Volumes of the pod.", free("A volume.")),
            "imagePullSecrets": array("Secrets to pull images.", free("A secret reference.")),
            "nodeSelector": string_map("Labels the node must have."),
            "affinity": free("Scheduling affinity."),
            "tolerations": array("Tolerations.", free("A toleration.")),
            "securityContext": free("Security options of the pod."),
            "enableServiceLinks": boolean("Whether service environment variables are set."),
        },
    )


def object_metadata(description: str) -> Schema:
    return obj(
        description,
        {
            "name": string("The name."),
            "labels": string_map("Labels."),
            "annotations": string_map("Annotations."),
        },
    )


def status(description: str, properties: Mapping[str, Schema] | None = None) -> Schema:
    """A Knative status: conditions, observedGeneration, annotations, plus ``properties``."""
    base: dict[str, Schema] = {
        "observedGeneration": integer("The generation last acted on by the controller."),
        "conditions": array(
            "The latest observations of the object's state.",
            obj(
                "A condition.",
                {
                    "type": string("The condition's type (Ready, ...)."),
                    "status": string("True, False or Unknown."),
                    "reason": string("A one-word reason for the last transition."),
                    "message": string("A human readable explanation."),
                    "severity": string("Error (empty) or Info."),
                    "lastTransitionTime": string("When the status last changed.", fmt="date-time"),
                },
                required=("type", "status"),
            ),
        ),
        "annotations": string_map("Extra status information set by the controller."),
    }
    base.update(properties or {})
    return obj(description, base)


def address(description: str = "Where the object receives events.") -> Schema:
    return obj(
        description,
        {
            "name": string("The address's name."),
            "url": string("The URL events are sent to."),
        },
    )


def source_status(description: str, properties: Mapping[str, Schema] | None = None) -> Schema:
    """A source's status: ``sinkUri``, ``ceAttributes`` and the usual fields."""
    fields: dict[str, Schema] = {
        "sinkUri": string("The resolved URL of the sink."),
        "ceAttributes": array(
            "The attributes of the events the source sends.",
            obj(
                "Type and source of one kind of event.",
                {"type": string("The event type."), "source": string("The event source.")},
            ),
        ),
    }
    fields.update(properties or {})
    return status(description, fields)
