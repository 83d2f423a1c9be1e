"""The process runtime: every container is a host program (kawa's default, no dependency).

kawa's image catalog (:mod:`kawa.images`) maps the container's image to a program (its own
event-display, appender...; a shell image runs ``command``/``args`` with the host's shell);
an image it cannot map waits in ``ImageNotRunnable`` until the catalog changes. The
container gets the environment Kubernetes builds (:mod:`.env`), the Pod's service account
files (:mod:`.service_account`, under the Pod's volume directory, named by
``KAWA_SERVICE_ACCOUNT_DIR``: a host process has no ``/var/run/secrets``), its
``configMap``, ``secret`` and ``emptyDir`` volumes as host directories (:mod:`.volumes`),
whose mount paths in its ``command``, ``args``, ``workingDir`` and own ``env`` values name
those directories instead (:func:`.volumes.host_paths`), and runs as
``securityContext.runAsUser``/``runAsGroup`` when kawa may change user (it runs as root).
``readOnlyRootFilesystem`` and ``capabilities`` are not enforced on host processes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from kawa import images
from kawa.apis.core import pod_status as ps
from kawa.serving.kubelet import env as env_mod
from kawa.serving.kubelet import network, security, service_account, volumes, watchdog
from kawa.serving.kubelet.launch import Launch

if TYPE_CHECKING:
    from kawa.serving.kubelet.container import ContainerRunner
    from kawa.serving.kubelet.pod_view import PodView

SCHEME: Final = "kawa"


class ProcessRuntime:
    """:class:`~.container_runtime.ContainerRuntime` of host processes."""

    scheme = SCHEME

    async def prepare(self, pod: PodView, runner: ContainerRunner) -> Launch:
        node = pod.node
        path = pod.field_path(runner)
        reported = ""
        while True:
            try:
                argv = images.resolve_command(node.catalog, runner.spec)
            except images.ImageNotRunnable as err:
                if reported != err.message:
                    reported = err.message
                    runner.state = ps.waiting(err.reason, err.message)
                    message = f"Error: {err.message}"
                    node.event(pod.pod, "Warning", "Failed", message, field_path=path)
                    pod.changed()
                await node.catalog_changed.wait()
                continue
            try:
                context = security.effective(pod.pod, runner.spec)
                problem = security.non_root_problem(
                    context, security.host_user(), pod.pod, runner.name
                ) or security.process_user_problem(security.process_user(context))
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
        for item in runner.spec.get("env") or ():  # the container's own values
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name in env:
                env[name] = volumes.host_paths(env[name], mounts)
        env.update(service_account.environment(node, account))
        if argv[0] == sys.executable and os.environ.get("PYTHONPATH"):
            env.setdefault("PYTHONPATH", os.environ["PYTHONPATH"])  # kawa's own programs
        env[watchdog.MARKER] = node.marker(pod.uid, runner.name)  # inherited by all
        env[network.POD_IP_ENV] = pod.pod_ip  # where kawa's own programs listen
        node.event(
            pod.pod,
            "Normal",
            "Pulled",
            f'Container image "{runner.image}" already present on machine',
            field_path=path,
        )
        working_dir = str(runner.spec.get("workingDir") or "")
        return Launch(
            argv=[volumes.host_paths(env_mod.expand(a, env), mounts) for a in argv],
            env=env,
            cwd=volumes.host_paths(working_dir, mounts) or None,
            container_env=env,
            user=security.process_user(context),
        )

    def container_id(self, launch: Launch, pid: int) -> str:
        return f"{SCHEME}://{pid}"

    def exec_argv(self, launch: Launch, command: Sequence[str]) -> list[str]:
        return list(command)

    async def stop(self, launch: Launch, grace: float) -> float:
        return grace

    async def remove(self, launch: Launch) -> None:
        return None
