"""Fixtures of the kubectl suite: one ``kawa up`` for the whole package, kubectl per test.

The leak checks fail a test that leaves a kawa child running (as in the e2e suite).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..e2e.e2e_support import CHILDREN, KawaProcess, kawa_up, stop
from .kubectl_support import KUBECTL, Api, Kubectl


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
    with kawa_up(tmp_path_factory.mktemp("kawa")) as running:
        yield running


@pytest.fixture
def kubectl(kawa: KawaProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(kawa.data_dir / "kubeconfig", tmp_path / "kube-cache")


@pytest.fixture(scope="session")
def api(kawa: KawaProcess) -> Api:
    return Api(kawa.data_dir / "kubeconfig")
