"""The podman runtime (:class:`PodmanRuntime`): one container run prepared in podman: the image
(by ``imagePullPolicy``), the ``securityContext`` (:mod:`.security`), the environment, the
volumes, the service account files (:mod:`.service_account`) and the ``podman run`` command
line.

``IfNotPresent`` (the default) and ``Never`` use the image in local storage; ``Always`` and
an ``IfNotPresent`` image that is missing are pulled first. A failed pull leaves the container
waiting in ``ErrImagePull`` (podman's message, Event ``Failed``), then ``ImagePullBackOff``
until the next try (the crash-loop back-off's delays); ``Never`` with a missing image waits in
``ErrImageNeverPull``. Chosen by :mod:`.worker` for images the catalog does not map.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kawa.apis.core import pod_status as ps
from kawa.serving.kubelet import config as config_mod
from kawa.serving.kubelet import env as env_mod
from kawa.serving.kubelet import network, probes, security, service_account, volumes, watchdog
from kawa.serving.kubelet.api_relay import ApiRelay
from kawa.serving.kubelet.launch import Launch
from kawa.serving.kubelet.podman import (
    Mount,
    Podman,
    PullError,
    RunSpec,
    container_name,
    limit_flags,
)

if TYPE_CHECKING:
    from kawa.serving.kubelet.container import ContainerRunner
    from kawa.serving.kubelet.node import Node
    from kawa.serving.kubelet.pod_view import PodView

log = logging.getLogger(__name__)


async def ensure_image(worker: PodView, runner: ContainerRunner, podman: Podman) -> str:
    """Return once the image is in local storage (pulled if the policy says so); its
    ``User``."""
    image = runner.image
    policy = str(runner.spec.get("imagePullPolicy") or "IfNotPresent")
    path = worker.field_path(runner)
    failures = 0
    while True:
        user = await podman.image_user(image)
        if user is not None and policy != "Always":
            worker.node.event(
                worker.pod,
                "Normal",
                "Pulled",
                f'Container image "{image}" already present on machine',
                field_path=path,
            )
            return user
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
                return await podman.image_user(image) or ""
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


class PodmanRuntime:
    """:class:`~.container_runtime.ContainerRuntime` of podman containers."""

    scheme = "podman"

    def __init__(self, podman: Podman) -> None:
        self.podman = podman
        self._relays: dict[tuple[str, int], ApiRelay] = {}
        self._gateway: str | None = None
        self._relay_lock = asyncio.Lock()

    async def relayed(self, target: tuple[str, int]) -> tuple[str, int] | None:
        """Where containers reach kawa's ``target`` (its API or HTTP port, on the host's
        loopback): a relay on the bridge's gateway, opened on first use (None when there is
        no gateway)."""
        async with self._relay_lock:
            if target not in self._relays:
                if self._gateway is None:
                    self._gateway = await self.podman.gateway()
                if not self._gateway:
                    log.warning("kubelet: no podman gateway: containers cannot reach kawa")
                    return None
                relay = ApiRelay(self._gateway, target)
                try:
                    await relay.start()
                except OSError as err:
                    log.warning("kubelet: cannot relay %s:%s to containers: %s", *target, err)
                    return None
                self._relays[target] = relay
            found = self._relays[target]
            return found.host, found.port

    async def api_address(self, node: Node) -> tuple[str, int] | None:
        """Where containers reach kawa's API (None when it is not known)."""
        return None if node.api is None else await self.relayed((node.api.host, node.api.port))

    async def http_address(self, node: Node) -> tuple[str, int] | None:
        """Where containers reach kawa's HTTP port (brokers, channels, Services)."""
        if node.api is None or not node.port:
            return None
        return await self.relayed((node.api.host, node.port))

    async def close(self) -> None:
        relays, self._relays = list(self._relays.values()), {}
        for relay in relays:
            await relay.close()

    async def prepare(self, pod: PodView, runner: ContainerRunner) -> Launch:
        podman = self.podman
        image_user = await ensure_image(pod, runner, podman)
        node = pod.node
        reported = ""
        while True:
            try:
                context = security.effective(pod.pod, runner.spec)
                problem = security.non_root_problem(context, image_user, pod.pod, runner.name)
                if problem:
                    raise env_mod.ContainerConfigError(problem)
                env = await env_mod.build_env(node.store, pod.pod, runner.spec, pod_ip=pod.pod_ip)
                mounts = await volumes.mounts(node.store, node.root, pod.pod, runner.spec)
                account = await service_account.write(node, pod.pod)
            except env_mod.ContainerConfigError as err:
                if reported != str(err):
                    reported = str(err)
                    pod.config_error(runner, str(err))
                await asyncio.sleep(node.config.crash_loop_backoff_initial)
                continue
            break
        declared = {str(e.get("name")) for e in runner.spec.get("env") or () if isinstance(e, dict)}
        for key in env_mod.INHERITED:  # kawa's own PATH, HOME...: the image has its own
            if key not in declared:
                env.pop(key, None)
        env.pop("HOSTNAME", None)  # --hostname
        hosts: tuple[tuple[str, str], ...] = ()
        if account is not None and not any(m.target == service_account.MOUNT_PATH for m in mounts):
            mounts += (Mount(str(account), service_account.MOUNT_PATH, read_only=True),)
            address = await self.api_address(node)
            if address is not None:
                hosts = ((service_account.SERVICE_NAME, address[0]),)
                name_and_port = (service_account.SERVICE_NAME, address[1])
                env.update(service_account.environment(node, account, address=name_and_port))
                env.pop(service_account.DIR_ENV, None)
        http = await self.http_address(node)
        if http is not None and node.api is not None:  # K_SINK...: kawa's HTTP port, inside
            kawa = [(node.api.host, node.port), ("localhost", node.port)]
            env.update(to_container(env, kawa, http))
        env[watchdog.MARKER] = node.marker(pod.uid, runner.name)  # the watchdog finds them
        env[network.POD_IP_ENV] = pod.pod_ip
        name = container_name(node.node_id, pod.uid, runner.name)
        ports = tuple(
            int(p["containerPort"])
            for p in runner.spec.get("ports") or ()
            if isinstance(p, dict) and isinstance(p.get("containerPort"), int)
        )
        spec = RunSpec(
            name=name,
            image=runner.image,
            node_id=node.node_id,
            pod_uid=pod.uid,
            hostname=pod.name,
            pod_ip=pod.pod_ip,
            command=tuple(env_mod.expand(str(c), env) for c in runner.spec.get("command") or ()),
            args=tuple(env_mod.expand(str(a), env) for a in runner.spec.get("args") or ()),
            env_names=tuple(env),
            working_dir=str(runner.spec.get("workingDir") or ""),
            ports=ports or _declared(runner),
            mounts=mounts,
            limits=limit_flags(runner.spec.get("resources"), config_mod.parse_quantity),
            security=tuple(security.podman_flags(context, image_user)),
            hosts=hosts,
        )
        return Launch(podman.run_argv(spec), podman.env(env), None, name, container_env=env)

    def container_id(self, launch: Launch, pid: int) -> str:
        return f"{self.scheme}://{launch.name}"

    def exec_argv(self, launch: Launch, command: Sequence[str]) -> list[str]:
        return self.podman.exec_argv(launch.name, command)

    async def stop(self, launch: Launch, grace: float) -> float:
        await self.podman.stop(launch.name, grace)  # SIGTERM, SIGKILL after grace
        return 2.0  # then the podman run command itself

    async def remove(self, launch: Launch) -> None:
        await self.podman.remove(launch.name)  # gone with --rm, unless podman was killed


def to_container(
    env: dict[str, str], hosts: list[tuple[str, int]], relay: tuple[str, int]
) -> dict[str, str]:
    """``env`` with URLs of kawa's HTTP port on the host's loopback (``http://127.0.0.1:8080``)
    rewritten to the relay a container reaches (pure)."""
    out = {}
    for key, value in env.items():
        text = value
        for host, port in hosts:
            text = text.replace(f"//{host}:{port}", f"//{relay[0]}:{relay[1]}")
        out[key] = text
    return out


def _declared(runner: ContainerRunner) -> tuple[int, ...]:
    port = probes.declared_port(runner.spec)
    return (port,) if port else ()
