"""The podman container runtime: a Pod's containers run from their OCI images.

kawa calls the ``podman`` command (rootful, daemonless) with a ``containers.conf`` of its own
(``CONTAINERS_CONF``, written under ``<data-dir>/kubelet/``; system files are never changed):
``default_ulimits`` within what root may set and ``runtime = "runc"`` (crun fails on hybrid
cgroup hosts). Each run is a foreground ``podman run --rm --init`` child of the kubelet
(:mod:`.process`), so its stdout and stderr are the container's, its exit status the
container's, and the process runtime's pumps, logs and restarts apply unchanged.

Every container is named ``kawa-<node id>-<pod uid>-<container>`` (several data dirs on one
host never collide) and labelled ``io.kawa.node=<node id>``: :func:`sweep` removes what a
previous kawa left, and ``KAWA_KUBELET`` in the container's environment lets the watchdog
(:mod:`.watchdog`) kill its processes when kawa dies. Ports are published on the Pod's own
loopback address (``-p <podIP>:<port>:<port>``), where the kubelet's probes and kawa's
router reach them. The argv builders are pure; the rest runs ``podman``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from kawa import files

log = logging.getLogger(__name__)

NODE_LABEL: Final = "io.kawa.node"
POD_LABEL: Final = "io.kawa.pod-uid"
CONTAINERS_CONF: Final = """\
# written by kawa for its own podman calls (CONTAINERS_CONF); system files are not changed
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""
PULL_TIMEOUT: Final = 60.0
"""Seconds a pull may take before it is reported as failed (``ErrImagePull``)."""
_CLI_ENV: Final = ("PATH", "HOME", "LANG", "TMPDIR", "XDG_RUNTIME_DIR")


class PullError(Exception):
    """The image could not be pulled; the message is podman's."""


@dataclass(frozen=True, slots=True)
class Mount:
    """A bind mount of a host directory or file into the container."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What one ``podman run`` gets (see :func:`run_argv`)."""

    name: str
    image: str
    node_id: str
    pod_uid: str
    hostname: str
    pod_ip: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()
    working_dir: str = ""
    ports: tuple[int, ...] = ()
    mounts: tuple[Mount, ...] = ()
    limits: tuple[str, ...] = ()
    security: tuple[str, ...] = ()
    hosts: tuple[tuple[str, str], ...] = ()
    """Extra ``/etc/hosts`` entries (name, address)."""
    """``--user``, ``--read-only``, ``--cap-add``/``--cap-drop`` (:mod:`.security`)."""


class Podman:
    """The ``podman`` command with kawa's settings (``conf``: kawa's containers.conf)."""

    def __init__(self, executable: str, conf: Path, version: str = "") -> None:
        self.executable = executable
        self.conf = conf
        self.version = version
        self.name = "podman"

    @property
    def runtime_version(self) -> str:
        """The Node's ``nodeInfo.containerRuntimeVersion``."""
        return f"podman://{self.version or 'unknown'}"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a podman call (``extra`` first: the container's ``-e NAME``)."""
        env = dict(extra or {})
        for key in _CLI_ENV:
            if key in os.environ:
                env.setdefault(key, os.environ[key])
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env["CONTAINERS_CONF"] = str(self.conf)
        return env

    def call(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run ``podman args...`` to the end (blocking; call it in a thread)."""
        return subprocess.run(
            [self.executable, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    async def acall(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(self.call, *args, timeout=timeout)

    # -- images --------------------------------------------------------------------------

    async def gateway(self) -> str:
        """The address of the host on podman's default bridge network ("" if unknown)."""
        template = "{{range .Subnets}}{{.Gateway}}{{end}}"
        done = await self.acall("network", "inspect", "podman", "--format", template)
        return (
            done.stdout.strip().split()[0] if done.returncode == 0 and done.stdout.strip() else ""
        )

    async def image_user(self, image: str) -> str | None:
        """The image's ``User`` ("" when it names none: root); None when the image is not in
        local storage (one podman call answers both)."""
        done = await self.acall("image", "inspect", "--format", "{{.Config.User}}", image)
        return done.stdout.strip() if done.returncode == 0 else None

    async def pull(self, image: str, timeout: float = PULL_TIMEOUT) -> None:
        """Pull ``image``; PullError with podman's message when it cannot."""
        try:
            done = await self.acall("pull", "--quiet", image, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PullError(f"pulling image {image!r} took over {timeout:g}s") from None
        if done.returncode != 0:
            raise PullError(_last_error(done.stderr) or f"podman pull exited {done.returncode}")

    # -- containers ----------------------------------------------------------------------

    def run_argv(self, spec: RunSpec) -> list[str]:
        return [self.executable, *run_args(spec)]

    def exec_argv(self, name: str, command: Sequence[str]) -> list[str]:
        return [self.executable, "exec", name, *command]

    async def stop(self, name: str, grace: float) -> None:
        """SIGTERM the container, SIGKILL after ``grace`` seconds (``podman stop``)."""
        seconds = max(0, int(grace + 0.999))
        with contextlib.suppress(subprocess.TimeoutExpired):
            await self.acall("stop", "--ignore", "-t", str(seconds), name, timeout=seconds + 30)

    async def remove(self, name: str) -> None:
        """Remove the container whatever its state (no error when it is gone)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            await self.acall("rm", "--force", "--ignore", "-t", "0", name)

    def sweep(self, node_id: str) -> list[str]:
        """Remove every container labelled with ``node_id`` (what a previous kawa left)."""
        try:
            listed = self.call("ps", "-a", "-q", "--filter", f"label={NODE_LABEL}={node_id}")
            ids = listed.stdout.split()
            if ids:
                self.call("rm", "--force", "--ignore", "-t", "0", *ids, timeout=60)
                log.warning("removed %d podman container(s) left by a previous run", len(ids))
        except (OSError, subprocess.TimeoutExpired) as err:
            log.warning("kubelet: cannot sweep podman containers: %s", err)
            return []
        return ids


def run_args(spec: RunSpec) -> list[str]:
    """The arguments of ``podman run`` for ``spec`` (pure)."""
    argv = [
        "run",
        "--rm",
        "--init",
        "--pull=never",
        "--name",
        spec.name,
        "--label",
        f"{NODE_LABEL}={spec.node_id}",
        "--label",
        f"{POD_LABEL}={spec.pod_uid}",
        "--hostname",
        spec.hostname[:63] or "pod",
        "--stop-signal",
        "SIGTERM",
    ]
    for port in spec.ports:
        argv += ["-p", f"{spec.pod_ip}:{port}:{port}"]
    for name in spec.env_names:
        argv += ["-e", name]  # the value is taken from the podman command's environment
    for mount in spec.mounts:
        option = f"{mount.source}:{mount.target}" + (":ro" if mount.read_only else "")
        argv += ["-v", option]
    if spec.working_dir:
        argv += ["--workdir", spec.working_dir]
    argv += list(spec.security)
    for host, address in spec.hosts:
        argv += ["--add-host", f"{host}:{address}"]
    argv += list(spec.limits)
    if spec.command:
        argv += ["--entrypoint", _entrypoint(spec.command)]
    argv.append(spec.image)
    argv += list(spec.args)
    return argv


def _entrypoint(command: Sequence[str]) -> str:
    """``--entrypoint`` takes a JSON array for a command of several words."""
    return json.dumps(list(command))


def limit_flags(resources: Any, parse: Any) -> tuple[str, ...]:
    """``--memory``/``--cpus`` from a container's ``resources.limits`` (``parse``: a
    Kubernetes quantity parser for memory)."""
    limits = resources.get("limits") if isinstance(resources, Mapping) else None
    if not isinstance(limits, Mapping):
        return ()
    flags: list[str] = []
    memory = limits.get("memory")
    if memory is not None:
        with contextlib.suppress(ValueError):
            flags += ["--memory", str(parse(str(memory)))]
    cpu = limits.get("cpu")
    if cpu is not None:
        text = str(cpu)
        with contextlib.suppress(ValueError):
            cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
            if cores > 0:
                flags += ["--cpus", f"{cores:g}"]
    return tuple(flags)


def container_name(node_id: str, uid: str, container: str) -> str:
    """The podman name of one container of a Pod, unique per data dir."""
    return f"kawa-{node_id[:12]}-{uid[:13]}-{container}"


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Error:"):
            return line.removeprefix("Error:").strip()
    return lines[-1] if lines else ""


def find(data_dir: Path) -> tuple[Podman | None, str]:
    """A working podman with kawa's settings, or None and why not (blocking)."""
    executable = shutil.which("podman")
    if executable is None:
        return None, "podman is not installed (no podman on PATH)"
    conf = data_dir / "kubelet" / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    files.write_private(conf, CONTAINERS_CONF.encode())
    podman = Podman(executable, conf)
    try:
        done = podman.call("version", "--format", "{{.Client.Version}}", timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"podman does not answer: {err}"
    if done.returncode != 0:
        return None, f"podman does not work: {_last_error(done.stderr) or done.returncode}"
    if shutil.which("runc") is None and not Path("/usr/sbin/runc").exists():
        return None, "podman needs runc here (apt-get install runc)"
    podman.version = done.stdout.strip()
    return podman, ""
