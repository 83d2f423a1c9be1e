"""Fixtures of the kubectl suite: one ``kawa up`` for the whole package, kubectl per test,
namespaces of a test's own (deleted at its end) and event sinks in the test process.

A module whose tests must pass on both backends takes :func:`each_kawa` instead of ``kawa``:
its tests run on the shared kawa (SQLite), then on a second ``kawa up --nats`` on a private
nats-server (:func:`kawa_on_jetstream`, started for that module only).

The leak checks fail a test that leaves a kawa child running (as in the e2e suite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..e2e.e2e_support import CHILDREN, KawaProcess, kawa_up, stop
from ..nats_support import nats_server
from .kubectl_support import KUBECTL, Api, Kubectl
from .sinks import Script, Sink, accept


@pytest.fixture(autouse=True)
def no_leftover_children() -> Iterator[None]:
    before = len(CHILDREN)
    yield
    left = [p.pid for p in CHILDREN[before:] if p.poll() is None]
    for proc in CHILDREN[before:]:
        stop(proc)
    if left:
        pytest.fail(f"the test left child processes running: pids {left}")


@pytest.fixture(scope="session")
def kawa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")
    # Delivered events stay in the log ten minutes: the console's lineage tests look an event
    # up after its delivery, and at the default (0 s) the trim that runs every 30 s may take it
    # first on a slow machine ("never accepted, or trimmed", seen once in a full suite).
    with kawa_up(tmp_path_factory.mktemp("kawa"), "--retention", "600") as running:
        yield running


@pytest.fixture(scope="module")
def kawa_on_jetstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KawaProcess]:
    """A ``kawa up --nats`` on a private JetStream server, for one module."""
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")
    with (
        nats_server(tmp_path_factory.mktemp("nats")) as url,
        kawa_up(tmp_path_factory.mktemp("kawa-jetstream"), nats=url) as running,
    ):
        yield running


@pytest.fixture(scope="module", params=["sqlite", "jetstream"])
def each_kawa(request: pytest.FixtureRequest) -> KawaProcess:
    """The shared kawa (SQLite), then :func:`kawa_on_jetstream`."""
    name = "kawa" if request.param == "sqlite" else "kawa_on_jetstream"
    running: KawaProcess = request.getfixturevalue(name)
    return running


@pytest.fixture
def kubectl(kawa: KawaProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(kawa.data_dir / "kubeconfig", tmp_path / "kube-cache")


@pytest.fixture(scope="session")
def api(kawa: KawaProcess) -> Api:
    return Api(kawa.data_dir / "kubeconfig")


@pytest.fixture
def namespaces(kubectl: Kubectl) -> Iterator[Callable[..., str]]:
    """``make(name, **labels)`` creates a namespace; all are deleted at the end."""
    made: list[str] = []

    def make(name: str, **labels: str) -> str:
        kubectl.ok("create", "namespace", name)
        made.append(name)
        if labels:
            kubectl.ok("label", "namespace", name, *(f"{k}={v}" for k, v in labels.items()))
        return name

    yield make
    for name in reversed(made):
        kubectl.run("delete", "namespace", name, "--ignore-not-found")


@pytest.fixture
def sinks() -> Iterator[Callable[..., Sink]]:
    """``make(script=accept)`` starts a :class:`Sink`; all are closed at the end."""
    made: list[Sink] = []

    def make(script: Script = accept) -> Sink:
        made.append(Sink(script))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def sink(sinks: Callable[..., Sink]) -> Sink:
    """One accepting :class:`Sink`."""
    return sinks()
