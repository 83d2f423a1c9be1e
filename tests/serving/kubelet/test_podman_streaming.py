"""The podman streaming runtime's pure parts: the ``podman exec`` command line, and the
choice of a runtime per container by its ``containerID``."""

from __future__ import annotations

from pathlib import Path

from kawa.serving.kubelet.podman import Podman
from kawa.serving.kubelet.podman_streaming import SCHEME, PodmanStreaming, exec_args
from kawa.serving.kubelet.streaming import PerContainer, ProcessStreaming, Target


def test_exec_args() -> None:
    assert exec_args("kawa-n-u-c", ["cat", "/f"], stdin=False, tty=False) == [
        "exec",
        "kawa-n-u-c",
        "cat",
        "/f",
    ]
    assert exec_args("c", ["sh"], stdin=True, tty=True, marker="n/u/c/exec-1") == [
        "exec",
        "-i",
        "-t",
        "-e",
        "KAWA_KUBELET=n/u/c/exec-1",
        "c",
        "sh",
    ]


def test_each_container_gets_the_runtime_that_runs_it() -> None:
    podman = PodmanStreaming(Podman("/usr/bin/podman", Path("/nonexistent")))
    process = ProcessStreaming()
    chooser = PerContainer({SCHEME: podman}, process)

    def target(container_id: str) -> Target:
        return Target("ns", "p", "uid", "c", "127.0.0.2", {}, None, container_id=container_id)

    assert chooser.of(target("podman://kawa-n-uid-c")) is podman
    assert chooser.of(target("kawa://1234")) is process
    assert chooser.of(target("")) is process
    assert PerContainer({}, process).of(target("podman://x")) is process
