"""Decoding the protobuf bodies of kinds that embed a pod template: apps/v1 Deployment,
batch/v1 Job and CronJob.

``kubectl create deployment``, ``kubectl create job NAME --image=I -- CMD``, ``kubectl create
job NAME --from=cronjob/C`` and ``kubectl create cronjob`` build their object client-side and
POST it as ``application/vnd.kubernetes.protobuf`` (as the generators of :mod:`.protobuf` do). A Job
made from a CronJob carries the CronJob's whole template as kawa served it, so the readers
here cover what kawa's Pod declaration has (``k8s.io/api/core/v1/generated.proto`` field
numbers): containers with their ports, env, envFrom, resources, mounts and probes, volumes,
and the pod-level fields. Fields kawa does not declare are skipped, as :mod:`.protobuf`
skips them. Go writes every non-pointer field, so zero values that JSON would omit (a
``false`` ``stdin``, an empty string, a ``0`` ``hostPort``) are left out again; a volume's
empty ``emptyDir: {}`` is kept, since it names the volume's kind.

:data:`DECODERS` joins :mod:`.protobuf`'s in the table the API server decodes with
(:mod:`kawa.apiserver.requests`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from kawa.apiserver.protobuf import Reader, fields
from kawa.apiserver.protobuf import bytes_of as _raw
from kawa.apiserver.protobuf import invalid as _invalid
from kawa.apiserver.protobuf import string as _string

_VARINT = 0


def _varint(wire: int, value: int | bytes, path: str) -> int:
    if wire != _VARINT or not isinstance(value, int):
        raise _invalid(path, "expected a varint")
    return value


def _int(wire: int, value: int | bytes, path: str) -> int:
    """An int32/int64 (negative numbers are ten-byte two's complement)."""
    number = _varint(wire, value, path)
    return number - (1 << 64) if number >= 1 << 63 else number


def _nonzero(wire: int, value: int | bytes, path: str) -> int | None:
    """A non-pointer int of Go: 0 is what JSON leaves out."""
    return _int(wire, value, path) or None


def _bool(wire: int, value: int | bytes, path: str) -> bool:
    """A pointer bool of Go: ``false`` is a value."""
    return _varint(wire, value, path) != 0


def _flag(wire: int, value: int | bytes, path: str) -> bool | None:
    """A non-pointer bool of Go: ``false`` is what JSON leaves out."""
    return True if _varint(wire, value, path) else None


_EMPTY: Final[tuple[Any, ...]] = ("", None, [], {})

Spec = tuple[str, Reader, str]
"""(JSON name, reader, how): how is ``one``, ``many`` (a list), ``map`` (map entries), ``inline``
(an embedded Go struct: its fields join the parent's) or ``keep`` (kept even when empty)."""


class _Msg:
    """One message type: field number -> :data:`Spec`."""

    __slots__ = ("specs",)

    def __init__(self, specs: dict[int, Spec]) -> None:
        self.specs = specs

    def __call__(self, wire: int, value: int | bytes, path: str) -> dict[str, Any]:
        data = _raw(wire, value, path)
        out: dict[str, Any] = {}
        kept: set[str] = set()
        for number, field_wire, field_value in fields(data, path):
            spec = self.specs.get(number)
            if spec is None:
                continue  # a field kawa does not declare
            name, reader, how = spec
            sub = f"{path}.{name}" if path and name else (name or path)
            if how == "many":
                items = out.setdefault(name, [])
                items.append(reader(field_wire, field_value, f"{sub}[{len(items)}]"))
            elif how == "map":
                key, item = reader(field_wire, field_value, sub)
                out.setdefault(name, {})[key] = item
            elif how == "inline":
                inner = reader(field_wire, field_value, path)
                out.update(inner)
                kept.update(inner)  # what the embedded message kept stays kept
            else:
                out[name] = reader(field_wire, field_value, sub)
                if how == "keep":
                    kept.add(name)
        return {k: v for k, v in out.items() if k in kept or not _empty(v)}


def _empty(value: Any) -> bool:
    return any(value is e or (type(value) is type(e) and value == e) for e in _EMPTY)


def _one(name: str, reader: Reader) -> Spec:
    return (name, reader, "one")


def _many(name: str, reader: Reader) -> Spec:
    return (name, reader, "many")


def _inline(reader: Reader) -> Spec:
    return ("", reader, "inline")


def _map(name: str, value_reader: Reader) -> Spec:
    entry = _Msg({1: _one("key", _string), 2: _one("value", value_reader)})

    def read(wire: int, value: int | bytes, path: str) -> tuple[str, Any]:
        pair = entry(wire, value, path)
        return str(pair.get("key", "")), pair.get("value", "")

    return (name, read, "map")


def _quantity(wire: int, value: int | bytes, path: str) -> str:
    return str(_Msg({1: _one("string", _string)})(wire, value, path).get("string", ""))


def _int_or_string(wire: int, value: int | bytes, path: str) -> int | str:
    parts = _Msg({1: _one("type", _int), 2: _one("int", _int), 3: _one("str", _string)})(
        wire, value, path
    )
    if parts.get("type") == 1:
        return str(parts.get("str", ""))
    return int(parts.get("int", 0))


# -- apimachinery meta/v1 ------------------------------------------------------------------------

_OWNER_REFERENCE: Final = _Msg(
    {
        1: _one("kind", _string),
        3: _one("name", _string),
        4: _one("uid", _string),
        5: _one("apiVersion", _string),
        6: _one("controller", _bool),
        7: _one("blockOwnerDeletion", _bool),
    }
)
_OBJECT_META: Final = _Msg(
    {
        1: _one("name", _string),
        2: _one("generateName", _string),
        3: _one("namespace", _string),
        11: _map("labels", _string),
        12: _map("annotations", _string),
        13: _many("ownerReferences", _OWNER_REFERENCE),
        14: _many("finalizers", _string),
    }
)
_LABEL_SELECTOR: Final = _Msg(
    {
        1: _map("matchLabels", _string),
        2: _many(
            "matchExpressions",
            _Msg(
                {
                    1: _one("key", _string),
                    2: _one("operator", _string),
                    3: _many("values", _string),
                }
            ),
        ),
    }
)

# -- core/v1: containers -------------------------------------------------------------------------

_NAME: Final = _Msg({1: _one("name", _string)})
_KEY_SELECTOR: Final = _Msg(
    {1: _inline(_NAME), 2: _one("key", _string), 3: _one("optional", _bool)}
)
_ENV_VAR: Final = _Msg(
    {
        1: _one("name", _string),
        2: _one("value", _string),
        3: _one(
            "valueFrom",
            _Msg(
                {
                    1: _one(
                        "fieldRef",
                        _Msg({1: _one("apiVersion", _string), 2: _one("fieldPath", _string)}),
                    ),
                    2: _one(
                        "resourceFieldRef",
                        _Msg(
                            {
                                1: _one("containerName", _string),
                                2: _one("resource", _string),
                                3: _one("divisor", _quantity),
                            }
                        ),
                    ),
                    3: _one("configMapKeyRef", _KEY_SELECTOR),
                    4: _one("secretKeyRef", _KEY_SELECTOR),
                }
            ),
        ),
    }
)
_ENV_SOURCE: Final = _Msg({1: _inline(_NAME), 2: _one("optional", _bool)})
_ENV_FROM: Final = _Msg(
    {
        1: _one("prefix", _string),
        2: _one("configMapRef", _ENV_SOURCE),
        3: _one("secretRef", _ENV_SOURCE),
    }
)
_PORT: Final = _Msg(
    {
        1: _one("name", _string),
        2: _one("hostPort", _nonzero),
        3: _one("containerPort", _int),
        4: _one("protocol", _string),
        5: _one("hostIP", _string),
    }
)
_RESOURCES: Final = _Msg(
    {
        1: _map("limits", _quantity),
        2: _map("requests", _quantity),
        3: _many("claims", _NAME),
    }
)
_VOLUME_MOUNT: Final = _Msg(
    {
        1: _one("name", _string),
        2: _one("readOnly", _flag),
        3: _one("mountPath", _string),
        4: _one("subPath", _string),
        5: _one("mountPropagation", _string),
        6: _one("subPathExpr", _string),
    }
)
_PROBE_HANDLER: Final = _Msg(
    {
        1: _one("exec", _Msg({1: _many("command", _string)})),
        2: _one(
            "httpGet",
            _Msg(
                {
                    1: _one("path", _string),
                    2: _one("port", _int_or_string),
                    3: _one("host", _string),
                    4: _one("scheme", _string),
                    5: _many(
                        "httpHeaders", _Msg({1: _one("name", _string), 2: _one("value", _string)})
                    ),
                }
            ),
        ),
        3: _one("tcpSocket", _Msg({1: _one("port", _int_or_string), 2: _one("host", _string)})),
        4: _one("grpc", _Msg({1: _one("port", _int), 2: _one("service", _string)})),
    }
)
_PROBE: Final = _Msg(
    {
        1: _inline(_PROBE_HANDLER),
        2: _one("initialDelaySeconds", _nonzero),
        3: _one("timeoutSeconds", _nonzero),
        4: _one("periodSeconds", _nonzero),
        5: _one("successThreshold", _nonzero),
        6: _one("failureThreshold", _nonzero),
        7: _one("terminationGracePeriodSeconds", _int),
    }
)
_CONTAINER: Final = _Msg(
    {
        1: _one("name", _string),
        2: _one("image", _string),
        3: _many("command", _string),
        4: _many("args", _string),
        5: _one("workingDir", _string),
        6: _many("ports", _PORT),
        7: _many("env", _ENV_VAR),
        8: _one("resources", _RESOURCES),
        9: _many("volumeMounts", _VOLUME_MOUNT),
        10: _one("livenessProbe", _PROBE),
        11: _one("readinessProbe", _PROBE),
        13: _one("terminationMessagePath", _string),
        14: _one("imagePullPolicy", _string),
        16: _one("stdin", _flag),
        17: _one("stdinOnce", _flag),
        18: _one("tty", _flag),
        19: _many("envFrom", _ENV_FROM),
        20: _one("terminationMessagePolicy", _string),
        21: _many(
            "volumeDevices", _Msg({1: _one("name", _string), 2: _one("devicePath", _string)})
        ),
        22: _one("startupProbe", _PROBE),
    }
)

# -- core/v1: volumes and the pod ----------------------------------------------------------------

_KEY_TO_PATH: Final = _Msg(
    {1: _one("key", _string), 2: _one("path", _string), 3: _one("mode", _int)}
)
_VOLUME_SOURCE: Final = _Msg(
    {
        1: ("hostPath", _Msg({1: _one("path", _string), 2: _one("type", _string)}), "keep"),
        2: (
            "emptyDir",
            _Msg({1: _one("medium", _string), 2: _one("sizeLimit", _quantity)}),
            "keep",
        ),
        6: (
            "secret",
            _Msg(
                {
                    1: _one("secretName", _string),
                    2: _many("items", _KEY_TO_PATH),
                    3: _one("defaultMode", _int),
                    4: _one("optional", _bool),
                }
            ),
            "keep",
        ),
        10: (
            "persistentVolumeClaim",
            _Msg({1: _one("claimName", _string), 2: _one("readOnly", _flag)}),
            "keep",
        ),
        19: (
            "configMap",
            _Msg(
                {
                    1: _inline(_NAME),
                    2: _many("items", _KEY_TO_PATH),
                    3: _one("defaultMode", _int),
                    4: _one("optional", _bool),
                }
            ),
            "keep",
        ),
    }
)
_VOLUME: Final = _Msg({1: _one("name", _string), 2: _inline(_VOLUME_SOURCE)})
_POD_SPEC: Final = _Msg(
    {
        1: _many("volumes", _VOLUME),
        2: _many("containers", _CONTAINER),
        3: _one("restartPolicy", _string),
        4: _one("terminationGracePeriodSeconds", _int),
        5: _one("activeDeadlineSeconds", _int),
        6: _one("dnsPolicy", _string),
        7: _map("nodeSelector", _string),
        8: _one("serviceAccountName", _string),
        10: _one("nodeName", _string),
        15: _many("imagePullSecrets", _NAME),
        16: _one("hostname", _string),
        17: _one("subdomain", _string),
        19: _one("schedulerName", _string),
        20: _many("initContainers", _CONTAINER),
        23: _many("hostAliases", _Msg({1: _one("ip", _string), 2: _many("hostnames", _string)})),
        28: _many("readinessGates", _Msg({1: _one("conditionType", _string)})),
        30: _one("enableServiceLinks", _bool),
    }
)
_POD_TEMPLATE: Final = _Msg({1: _one("metadata", _OBJECT_META), 2: _one("spec", _POD_SPEC)})

# -- apps/v1 -------------------------------------------------------------------------------------

_DEPLOYMENT_SPEC: Final = _Msg(
    {
        1: _one("replicas", _int),
        2: _one("selector", _LABEL_SELECTOR),
        3: _one("template", _POD_TEMPLATE),
        4: _one(
            "strategy",
            _Msg(
                {
                    1: _one("type", _string),
                    2: _one(
                        "rollingUpdate",
                        _Msg(
                            {
                                1: _one("maxUnavailable", _int_or_string),
                                2: _one("maxSurge", _int_or_string),
                            }
                        ),
                    ),
                }
            ),
        ),
        5: _one("minReadySeconds", _nonzero),
        6: _one("revisionHistoryLimit", _int),
        7: _one("paused", _flag),
        9: _one("progressDeadlineSeconds", _int),
    }
)
_DEPLOYMENT: Final = _Msg({1: _one("metadata", _OBJECT_META), 2: _one("spec", _DEPLOYMENT_SPEC)})

# -- batch/v1 ------------------------------------------------------------------------------------

_JOB_SPEC: Final = _Msg(
    {
        1: _one("parallelism", _int),
        2: _one("completions", _int),
        3: _one("activeDeadlineSeconds", _int),
        4: _one("selector", _LABEL_SELECTOR),
        5: _one("manualSelector", _bool),
        6: _one("template", _POD_TEMPLATE),
        7: _one("backoffLimit", _int),
        8: _one("ttlSecondsAfterFinished", _int),
        9: _one("completionMode", _string),
        10: _one("suspend", _bool),
        14: _one("podReplacementPolicy", _string),
    }
)
_JOB: Final = _Msg({1: _one("metadata", _OBJECT_META), 2: _one("spec", _JOB_SPEC)})
_CRONJOB: Final = _Msg(
    {
        1: _one("metadata", _OBJECT_META),
        2: _one(
            "spec",
            _Msg(
                {
                    1: _one("schedule", _string),
                    2: _one("startingDeadlineSeconds", _int),
                    3: _one("concurrencyPolicy", _string),
                    4: _one("suspend", _bool),
                    5: _one(
                        "jobTemplate",
                        _Msg({1: _one("metadata", _OBJECT_META), 2: _one("spec", _JOB_SPEC)}),
                    ),
                    6: _one("successfulJobsHistoryLimit", _int),
                    7: _one("failedJobsHistoryLimit", _int),
                    8: _one("timeZone", _string),
                }
            ),
        ),
    }
)

DECODERS: Final[dict[tuple[str, str], Callable[[int, int | bytes, str], Any]]] = {
    ("apps/v1", "Deployment"): _DEPLOYMENT,
    ("batch/v1", "Job"): _JOB,
    ("batch/v1", "CronJob"): _CRONJOB,
}
"""The (apiVersion, kind) pairs with a pod template kawa reads in protobuf."""
