"""``kawa up --workers N``: a supervisor process and N kawa worker processes on one machine.

The supervisor (this module, in the ``kawa up`` process) does no kawa work itself. It

- reserves the two ports (``--port``, ``--api-port``; 0 picks free ones) with a socket bound
  with ``SO_REUSEPORT`` but not listening, which holds the port for the workers and takes no
  connections; a first bind without ``SO_REUSEPORT`` refuses a port something else (another
  kawa's workers too) already listens on;
- makes the data dir's token, certificate and kubeconfig before any worker starts, so the
  workers only read them;
- starts worker 0 (the one running the node's kubelet, :mod:`kawa.workers`), then, once it
  is ready (it made whatever a fresh store lacks), the others: each is
  ``python -m kawa up <the same options> --worker-index I`` on the reserved ports, in its own
  process group (a terminal's Ctrl-C reaches the supervisor only), with a death signal
  (``PR_SET_PDEATHSIG``: SIGTERM) should the supervisor be killed;
- once every worker wrote its ``workers/<index>.json`` naming its pid, writes
  ``server.json`` (the URLs, its own pid, the workers' pids) and announces kawa;
- starts a worker that died again, after a delay doubling from :data:`FIRST_DELAY`; a worker
  that dies :data:`CRASH_LIMIT` times within :data:`CRASH_WINDOW` seconds, or one that dies
  before every worker was first ready, stops everything and ``kawa up`` exits 1;
- on SIGTERM/SIGINT sends SIGTERM to every worker, waits :data:`STOP_TIMEOUT` seconds for
  them, SIGKILLs what is left, removes ``server.json`` and exits 0.

See docs/decisions/0045-workers.md. Called by :func:`kawa.cli.up.up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import click
import orjson

from kawa import __version__, deathsig, files, workers
from kawa.apiserver import access
from kawa.cli.client import CliError, startup_error
from kawa.cli.options import ARGS_KEY
from kawa.cli.runner import run_async
from kawa.datadir import SERVER_FILE
from kawa.listeners import ListenError
from kawa.startup import make_private

log = logging.getLogger(__name__)

AUTO: Final = "auto"
CRASH_LIMIT: Final = 5
CRASH_WINDOW: Final = 60.0
FIRST_DELAY: Final = 0.5
MAX_DELAY: Final = 10.0
STOP_TIMEOUT: Final = 20.0
"""Seconds the workers get to stop after SIGTERM (their Pods and requests too)."""
READY_POLL: Final = 0.1


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def parse_count(value: str) -> int:
    """``--workers``: a positive number, or ``auto`` (one per core); ValueError otherwise."""
    if value.strip().lower() == AUTO:
        return cores()
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither a number of workers nor {AUTO!r}") from None
    if count < 1:
        raise ValueError(f"{count}: at least one worker")
    return count


@dataclass(slots=True)
class CrashLoop:
    """When to start a worker that died again (pure: the caller gives the time)."""

    limit: int = CRASH_LIMIT
    window: float = CRASH_WINDOW
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY
    _deaths: deque[float] = field(default_factory=deque)

    def died(self, now: float) -> float | None:
        """The seconds to wait before starting it again, or None: it died ``limit`` times
        within ``window`` seconds, give up."""
        self._deaths.append(now)
        while self._deaths and self._deaths[0] <= now - self.window:
            self._deaths.popleft()
        if len(self._deaths) >= self.limit:
            return None
        return min(self.max_delay, self.first_delay * 2.0 ** (len(self._deaths) - 1))


def reserve(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with ``SO_REUSEPORT``, not listening (port 0: a free
    one): the workers bind the same port beside it. ListenError when the port is in use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:  # without SO_REUSEPORT
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ListenError(
                f"cannot listen on {host}:{port}: the address is already in use (is something "
                "already running there? choose another --port / --api-port)"
            ) from None
        raise ListenError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


def count_option(value: str, index: int | None, *, with_nats: bool) -> int:
    """The number of workers ``kawa up --workers VALUE`` asks for (BadParameter: none)."""
    try:
        count = parse_count(value)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--workers") from None
    if index is not None and count != 1:
        raise click.BadParameter(
            "for the workers `kawa up --workers N` starts", param_hint="--worker-index"
        )
    if count > 1 and not with_nats:
        raise click.BadParameter(
            f"{count} workers need --nats: they share the JetStream store and event log "
            "(the SQLite files are one process's)",
            param_hint="--workers",
        )
    return count


@dataclass(frozen=True, slots=True)
class Plan:
    """What the supervisor runs: ``count`` workers of ``kawa up``."""

    count: int
    data_dir: Path
    host: str
    port: int
    api_port: int
    advertise_address: str = "127.0.0.1"
    """The node's ``--advertise-address``: in the certificate, and the kubeconfig's server
    when ``host`` is a wildcard."""


@dataclass(frozen=True, slots=True)
class Up:
    """What the supervisor announces once every worker is ready."""

    url: str
    api_url: str
    kubeconfig: Path
    pids: tuple[int, ...]


def run(plan: Plan) -> None:
    """``kawa up --workers N`` in the foreground: the workers run with the command line's
    own arguments (kept by :class:`kawa.cli.main.KawaGroup`)."""
    args = click.get_current_context().meta.get(ARGS_KEY)
    if not isinstance(args, tuple):
        raise CliError("kawa up --workers: the command line is unknown (run it as `kawa up`)")
    try:
        run_async(supervise(plan, args, announce))
    except OSError as err:
        raise startup_error(err, plan.host, plan.port) from None


def announce(up: Up) -> None:
    pids = ", ".join(str(pid) for pid in up.pids)
    click.echo(
        f"kawa {__version__} is up with {len(up.pids)} workers (pids {pids}): broker ingress "
        f"at {up.url}, API for kubectl and the kawa CLI at {up.api_url} (export "
        f"KUBECONFIG={up.kubeconfig})",
        err=True,
    )


async def supervise(plan: Plan, args: Sequence[str], on_ready: Callable[[Up], None]) -> None:
    """Run ``plan``'s workers of ``kawa ARGS`` (``up ...``) until cancelled (SIGTERM/SIGINT)
    or until one keeps dying (CliError)."""
    make_private(plan.data_dir)
    held = [reserve(plan.host, plan.port)]
    try:
        held.append(reserve(plan.host, plan.api_port))
        port, api_port = (sock.getsockname()[1] for sock in held)
        host = f"[{plan.host}]" if ":" in plan.host else plan.host
        token = access.ensure_token(plan.data_dir)
        cert, _ = access.ensure_certificate(plan.data_dir, plan.host, plan.advertise_address)
        kubeconfig = access.write_kubeconfig(
            plan.data_dir, f"https://{host}:{api_port}", token, cert, plan.advertise_address
        )
        for leftover in (plan.data_dir / workers.WORKERS_DIR).glob("*.json"):
            leftover.unlink(missing_ok=True)
        group = _Workers(plan, tuple(args), port, api_port, kubeconfig, on_ready)
        await group.run()
    finally:
        for sock in held:
            sock.close()


class _Workers:
    """The running workers: one task per worker keeps it alive."""

    def __init__(
        self,
        plan: Plan,
        args: tuple[str, ...],
        port: int,
        api_port: int,
        kubeconfig: Path,
        on_ready: Callable[[Up], None],
    ) -> None:
        self.plan = plan
        self.args = args
        self.ports = (port, api_port)
        self.kubeconfig = kubeconfig
        self.on_ready = on_ready
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.ready: dict[int, int] = {}  # index -> pid of its ready process
        self.first_ready = asyncio.Event()
        self.all_ready = False
        self.stop = asyncio.Event()
        self.failure: str | None = None

    async def run(self) -> None:
        server_file = self.plan.data_dir / SERVER_FILE
        tasks = [
            asyncio.create_task(self._keep(index), name=f"worker-{index}")
            for index in range(self.plan.count)
        ]
        try:
            await self.stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _stop_all(list(self.procs.values()))
            with contextlib.suppress(FileNotFoundError):
                if _names(server_file, os.getpid()):
                    server_file.unlink()
        if self.failure is not None:
            raise CliError(self.failure)

    def _fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = message
        self.stop.set()

    async def _keep(self, index: int) -> None:
        crashes = CrashLoop()
        try:
            if index != workers.NODE_AGENT:
                await self.first_ready.wait()
            while True:
                proc = await self._spawn(index)
                self.procs[index] = proc
                if await _until_ready(proc, workers.state_file(self.plan.data_dir, index)):
                    self._became_ready(index, proc.pid)
                    await proc.wait()
                self.ready.pop(index, None)
                code = proc.returncode
                if not self.all_ready:
                    self._fail(f"worker {index} exited with {_exit(code)} before kawa was up")
                    return
                delay = crashes.died(time.monotonic())
                if delay is None:
                    self._fail(
                        f"worker {index} exited {crashes.limit} times within "
                        f"{crashes.window:g} s (last: {_exit(code)}); stopping kawa"
                    )
                    return
                log.warning(
                    "worker %d (pid %d) exited with %s; starting it again in %.1f s",
                    index,
                    proc.pid,
                    _exit(code),
                    delay,
                )
                await asyncio.sleep(delay)
        except Exception as err:  # a bug or an OSError spawning: stop, say why
            self._fail(f"supervising worker {index}: {err!r}")

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        port, api_port = self.ports
        argv = [
            sys.executable,
            "-m",
            "kawa",
            *self.args,
            "--port",
            str(port),
            "--api-port",
            str(api_port),
            "--workers",
            "1",
            "--worker-index",
            str(index),
        ]
        return await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, preexec_fn=_child_setup(os.getpid())
        )

    def _became_ready(self, index: int, pid: int) -> None:
        self.ready[index] = pid
        if index == workers.NODE_AGENT:
            self.first_ready.set()
        if len(self.ready) < self.plan.count:
            return
        state = orjson.loads(workers.state_file(self.plan.data_dir, index).read_bytes())
        pids = tuple(self.ready[i] for i in range(self.plan.count))
        files.write_private(
            self.plan.data_dir / SERVER_FILE,
            orjson.dumps(
                {
                    "url": state["url"],
                    "apiUrl": state["apiUrl"],
                    "pid": os.getpid(),
                    "workers": list(pids),
                },
                option=orjson.OPT_INDENT_2,
            ),
        )
        if not self.all_ready:
            self.all_ready = True
            self.on_ready(Up(state["url"], state["apiUrl"], self.kubeconfig, pids))
        else:
            log.info("worker %d (pid %d) is ready again", index, pid)


async def _until_ready(proc: asyncio.subprocess.Process, state_file: Path) -> bool:
    """True once ``state_file`` names ``proc``; False if it exited first."""
    exited = asyncio.ensure_future(proc.wait())
    try:
        while not _names(state_file, proc.pid):
            done, _ = await asyncio.wait({exited}, timeout=READY_POLL)
            if done:
                return False
        return True
    finally:
        exited.cancel()


def _names(path: Path, pid: int) -> bool:
    try:
        return bool(orjson.loads(path.read_bytes()).get("pid") == pid)
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return False


async def _stop_all(procs: Sequence[asyncio.subprocess.Process]) -> None:
    """SIGTERM each, wait up to STOP_TIMEOUT for all, SIGKILL what is left."""
    alive = [proc for proc in procs if proc.returncode is None]
    for proc in alive:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    if not alive:
        return
    waiting = asyncio.gather(*(proc.wait() for proc in alive))
    try:
        await asyncio.wait_for(asyncio.shield(waiting), STOP_TIMEOUT)
    except TimeoutError:
        for proc in alive:
            if proc.returncode is None:
                log.warning("worker pid %d did not stop in %g s: killed", proc.pid, STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        await waiting


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
    return f"code {code}"


def _child_setup(parent: int) -> Callable[[], None]:
    def setup() -> None:  # in the child, between fork and exec
        os.setpgid(0, 0)  # a terminal's SIGINT goes to the supervisor, which stops us
        deathsig.arm(signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died before the signal was armed
            os._exit(1)

    return setup
