"""A container's ``securityContext`` as the kubelet applies it (pure).

:func:`effective` merges the Pod's ``spec.securityContext`` (``runAsUser``, ``runAsGroup``,
``runAsNonRoot``) with the container's own, which wins field by field; the container adds
``readOnlyRootFilesystem`` and ``capabilities`` (``add``/``drop``). :func:`non_root_problem`
is Kubernetes' check of ``runAsNonRoot`` against the user the container would run as (the
image's user, or the runtime's), with the kubelet's messages: the container then waits in
``CreateContainerConfigError``. :func:`podman_flags` and :func:`process_user` say how each
runtime applies the rest (:mod:`.podman_run`, :mod:`.process_runtime`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SecurityContext:
    """What of a container's effective ``securityContext`` kawa applies."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool = False
    read_only_root_filesystem: bool = False
    add_capabilities: tuple[str, ...] = ()
    drop_capabilities: tuple[str, ...] = ()


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def effective(pod: Mapping[str, Any], container: Mapping[str, Any]) -> SecurityContext:
    """The container's ``securityContext`` over the Pod's (a field of the container wins)."""
    pod_context = (pod.get("spec") or {}).get("securityContext")
    own = container.get("securityContext")
    pod_context = pod_context if isinstance(pod_context, Mapping) else {}
    own = own if isinstance(own, Mapping) else {}

    def pick(key: str) -> Any:
        return own[key] if own.get(key) is not None else pod_context.get(key)

    capabilities = own.get("capabilities")
    capabilities = capabilities if isinstance(capabilities, Mapping) else {}
    return SecurityContext(
        run_as_user=_int(pick("runAsUser")),
        run_as_group=_int(pick("runAsGroup")),
        run_as_non_root=pick("runAsNonRoot") is True,
        read_only_root_filesystem=own.get("readOnlyRootFilesystem") is True,
        add_capabilities=_names(capabilities.get("add")),
        drop_capabilities=_names(capabilities.get("drop")),
    )


def pod_label(pod: Mapping[str, Any]) -> str:
    """The kubelet's way of naming a Pod in messages: ``name_namespace(uid)``."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', 'default')}({meta.get('uid', '')})"


def non_root_problem(
    context: SecurityContext, image_user: str, pod: Mapping[str, Any], container: str
) -> str:
    """Why the container may not start under ``runAsNonRoot`` ("" when it may). ``image_user``
    is the user it would otherwise run as (``uid``, ``name`` or ``uid:gid``; "" is root)."""
    if not context.run_as_non_root:
        return ""
    where = f'(pod: "{pod_label(pod)}", container: {container})'
    if context.run_as_user is not None:
        if context.run_as_user == 0:
            return f"container's runAsUser breaks non-root policy {where}"
        return ""
    user = image_user.split(":", 1)[0].strip()
    if not user:
        return f"container has runAsNonRoot and image will run as root {where}"
    if not user.isdigit():
        return (
            f"container has runAsNonRoot and image has non-numeric user ({user}), "
            f"cannot verify user is non-root {where}"
        )
    if int(user) == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    return ""


def host_user() -> str:
    """The user a host process runs as when it does not change user (kawa's)."""
    return str(os.geteuid())


def process_user(context: SecurityContext) -> tuple[int, int] | None:
    """The uid and gid a host process runs as (None: kawa's own). A uid without a group gets
    group 0, as container runtimes give a user the image does not know."""
    if context.run_as_user is None and context.run_as_group is None:
        return None
    uid = os.geteuid() if context.run_as_user is None else context.run_as_user
    gid = context.run_as_group
    if gid is None:
        gid = os.getegid() if context.run_as_user is None else 0
    return uid, gid


def process_user_problem(user: tuple[int, int] | None) -> str:
    """Why kawa cannot start a host process as ``user`` ("" when it can)."""
    if user is None or os.geteuid() == 0 or user == (os.geteuid(), os.getegid()):
        return ""
    return (
        f"runAsUser/runAsGroup {user[0]}:{user[1]}: kawa runs as uid {os.geteuid()} and can "
        "start host processes only as itself (run kawa as root, or use --runtime podman)"
    )


def podman_flags(context: SecurityContext, image_user: str) -> list[str]:
    """``podman run`` flags for ``context`` (``image_user``: the image's ``User``)."""
    flags: list[str] = []
    if context.run_as_user is not None or context.run_as_group is not None:
        uid = str(context.run_as_user) if context.run_as_user is not None else ""
        if not uid:
            uid = image_user.split(":", 1)[0].strip() or "0"
        group = "" if context.run_as_group is None else f":{context.run_as_group}"
        flags += ["--user", uid + group]
    if context.read_only_root_filesystem:
        flags.append("--read-only")
    for name in context.add_capabilities:
        flags += ["--cap-add", name]
    for name in context.drop_capabilities:
        flags += ["--cap-drop", name]
    return flags
