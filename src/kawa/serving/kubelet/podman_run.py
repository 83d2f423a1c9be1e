"""Preparing one container run in podman: the image (by ``imagePullPolicy``), the
environment, the volumes and the ``podman run`` command line.

``IfNotPresent`` (the default) and ``Never`` use the image in local storage; ``Always`` and
an ``IfNotPresent`` image that is missing are pulled first. A failed pull leaves the container
waiting in ``ErrImagePull`` (podman's message, Event ``Failed``), then ``ImagePullBackOff``
until the next try (the crash-loop back-off's delays); ``Never`` with a missing image waits in
``ErrImageNeverPull``. Used by :mod:`.worker`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kawa.apis.core import pod_status as ps
from kawa.serving.kubelet import config as config_mod
from kawa.serving.kubelet import env as env_mod
from kawa.serving.kubelet import network, probes, volumes, watchdog
from kawa.serving.kubelet.podman import Podman, PullError, RunSpec, container_name, limit_flags

if TYPE_CHECKING:
    from kawa.serving.kubelet.container import ContainerRunner
    from kawa.serving.kubelet.pod_view import PodView


async def ensure_image(worker: PodView, runner: ContainerRunner, podman: Podman) -> None:
    """Return once the image is in local storage (pulled if the policy says so)."""
    image = runner.image
    policy = str(runner.spec.get("imagePullPolicy") or "IfNotPresent")
    path = worker.field_path(runner)
    failures = 0
    while True:
        present = await podman.image_present(image)
        if present and policy != "Always":
            worker.node.event(
                worker.pod,
                "Normal",
                "Pulled",
                f'Container image "{image}" already present on machine',
                field_path=path,
            )
            return
        if policy == "Never":
            message = f'Container image "{image}" is not present with pull policy of Never'
            if failures == 0:
                worker.node.event(
                    worker.pod, "Warning", "ErrImageNeverPull", message, field_path=path
                )
            runner.state = ps.waiting("ErrImageNeverPull", message)
        else:
            worker.node.event(
                worker.pod, "Normal", "Pulling", f'Pulling image "{image}"', field_path=path
            )
            try:
                await podman.pull(image)
            except PullError as err:
                message = f'Failed to pull image "{image}": {err}'
                runner.state = ps.waiting("ErrImagePull", message)
                worker.node.event(worker.pod, "Warning", "Failed", message, field_path=path)
                worker.node.event(
                    worker.pod, "Warning", "Failed", "Error: ErrImagePull", field_path=path
                )
            else:
                worker.node.event(
                    worker.pod,
                    "Normal",
                    "Pulled",
                    f'Successfully pulled image "{image}"',
                    field_path=path,
                )
                return
        worker.changed()
        delay = max(worker.node.config.backoff(failures), 1.0)
        failures += 1
        await asyncio.sleep(min(delay, 2.0))  # ErrImagePull shows a moment, then the back-off
        if runner.state.get("waiting", {}).get("reason") == "ErrImagePull":
            runner.state = ps.waiting("ImagePullBackOff", f'Back-off pulling image "{image}"')
            worker.node.event(
                worker.pod,
                "Normal",
                "BackOff",
                f'Back-off pulling image "{image}"',
                field_path=path,
            )
            worker.changed()
        await asyncio.sleep(max(delay - 2.0, 0.0))


async def prepare(
    worker: PodView, runner: ContainerRunner, podman: Podman
) -> tuple[list[str], dict[str, str], str]:
    """The ``podman run`` argv, its environment and the container's name (waiting in an
    error state until the image, the environment and the volumes are there)."""
    await ensure_image(worker, runner, podman)
    node = worker.node
    reported = ""
    while True:
        try:
            env = await env_mod.build_env(node.store, worker.pod, runner.spec, pod_ip=worker.pod_ip)
            mounts = await volumes.mounts(node.store, node.root, worker.pod, runner.spec)
        except env_mod.ContainerConfigError as err:
            if reported != str(err):
                reported = str(err)
                worker.config_error(runner, str(err))
            await asyncio.sleep(node.config.crash_loop_backoff_initial)
            continue
        break
    declared = {str(e.get("name")) for e in runner.spec.get("env") or () if isinstance(e, dict)}
    for key in env_mod.INHERITED:  # kawa's own PATH, HOME...: the image has its own
        if key not in declared:
            env.pop(key, None)
    env.pop("HOSTNAME", None)  # --hostname
    env[watchdog.MARKER] = node.marker(worker.uid, runner.name)  # the watchdog finds them
    env[network.POD_IP_ENV] = worker.pod_ip
    name = container_name(node.node_id, worker.uid, runner.name)
    ports = tuple(
        int(p["containerPort"])
        for p in runner.spec.get("ports") or ()
        if isinstance(p, dict) and isinstance(p.get("containerPort"), int)
    )
    security = runner.spec.get("securityContext") or {}
    user = security.get("runAsUser") if isinstance(security, dict) else None
    spec = RunSpec(
        name=name,
        image=runner.image,
        node_id=node.node_id,
        pod_uid=worker.uid,
        hostname=worker.name,
        pod_ip=worker.pod_ip,
        command=tuple(env_mod.expand(str(c), env) for c in runner.spec.get("command") or ()),
        args=tuple(env_mod.expand(str(a), env) for a in runner.spec.get("args") or ()),
        env_names=tuple(env),
        working_dir=str(runner.spec.get("workingDir") or ""),
        ports=ports or _declared(runner),
        mounts=mounts,
        limits=limit_flags(runner.spec.get("resources"), config_mod.parse_quantity),
        user=str(user) if isinstance(user, int) else "",
        read_only=isinstance(security, dict) and security.get("readOnlyRootFilesystem") is True,
    )
    return podman.run_argv(spec), podman.env(env), name


def _declared(runner: ContainerRunner) -> tuple[int, ...]:
    port = probes.declared_port(runner.spec)
    return (port,) if port else ()
