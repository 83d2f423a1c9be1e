"""securityContext as the kubelet applies it: the Pod's and the container's merged,
Kubernetes' runAsNonRoot messages, and the podman flags (pure functions)."""

from __future__ import annotations

from typing import Any

from kawa.serving.kubelet import security
from kawa.serving.kubelet.podman import RunSpec, run_args

POD: dict[str, Any] = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": {}}


def test_the_container_wins_field_by_field() -> None:
    pod = {**POD, "spec": {"securityContext": {"runAsUser": 10, "runAsNonRoot": True}}}
    container = {"securityContext": {"runAsGroup": 20, "readOnlyRootFilesystem": True}}
    context = security.effective(pod, container)
    assert context == security.SecurityContext(
        run_as_user=10, run_as_group=20, run_as_non_root=True, read_only_root_filesystem=True
    )
    own = security.effective(pod, {"securityContext": {"runAsUser": 0}})
    assert own.run_as_user == 0


def test_run_as_non_root_messages() -> None:
    on = security.SecurityContext(run_as_non_root=True)
    where = '(pod: "p_ns(u1)", container: c)'
    assert security.non_root_problem(on, "", POD, "c") == (
        f"container has runAsNonRoot and image will run as root {where}"
    )
    assert security.non_root_problem(on, "0:0", POD, "c").startswith("container has runAsNonRoot")
    assert security.non_root_problem(on, "nobody", POD, "c") == (
        "container has runAsNonRoot and image has non-numeric user (nobody), cannot verify "
        f"user is non-root {where}"
    )
    assert security.non_root_problem(on, "1000:1000", POD, "c") == ""
    as_root = security.SecurityContext(run_as_non_root=True, run_as_user=0)
    assert security.non_root_problem(as_root, "1000", POD, "c") == (
        f"container's runAsUser breaks non-root policy {where}"
    )
    as_user = security.SecurityContext(run_as_non_root=True, run_as_user=5)
    assert security.non_root_problem(as_user, "", POD, "c") == ""
    assert security.non_root_problem(security.SecurityContext(), "", POD, "c") == ""


def test_podman_flags() -> None:
    context = security.SecurityContext(
        run_as_user=1,
        run_as_group=2,
        read_only_root_filesystem=True,
        add_capabilities=("NET_ADMIN",),
        drop_capabilities=("ALL",),
    )
    flags = security.podman_flags(context, "")
    assert flags == [
        *("--user", "1:2", "--read-only"),
        *("--cap-add", "NET_ADMIN", "--cap-drop", "ALL"),
    ]
    group_only = security.SecurityContext(run_as_group=7)
    assert security.podman_flags(group_only, "1000:1000") == ["--user", "1000:7"]
    assert security.podman_flags(security.SecurityContext(), "") == []
    spec = RunSpec("n", "img", "node", "uid", "h", "127.0.0.5", security=tuple(flags))
    argv = run_args(spec)
    assert argv[argv.index("--user") + 1] == "1:2"
    assert argv.index("--read-only") < argv.index("img")


def test_process_user() -> None:
    assert security.process_user(security.SecurityContext()) is None
    assert security.process_user(security.SecurityContext(run_as_user=5)) == (5, 0)
    assert security.process_user(security.SecurityContext(run_as_user=5, run_as_group=6)) == (5, 6)
