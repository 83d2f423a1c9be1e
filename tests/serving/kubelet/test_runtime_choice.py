"""``kawa up --runtime``'s choice without podman, and the ``podman run`` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kawa import images
from kawa.serving.kubelet import runtime_choice
from kawa.serving.kubelet.config import parse_quantity
from kawa.serving.kubelet.podman import Mount, RunSpec, container_name, limit_flags, run_args


def test_without_podman_auto_runs_processes_and_podman_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert runtime_choice.choose("auto", tmp_path) is None
    assert not images.runs_in_container(images.DEFAULT_CATALOG, {"image": "dev.local/x:1"})
    with pytest.raises(runtime_choice.RuntimeUnavailable, match="podman is not installed"):
        runtime_choice.choose("podman", tmp_path)
    assert runtime_choice.choose("process", tmp_path) is None


def test_the_catalog_wins_over_the_container_engine() -> None:
    try:
        images.set_container_engine(True)
        catalog = images.DEFAULT_CATALOG
        assert images.runs_in_container(catalog, {"image": "dev.local/orders:1"})
        assert images.resolve_command(catalog, {"image": "dev.local/orders:1"}) == []
        assert not images.runs_in_container(catalog, {"image": "x/cmd/appender"})
        assert not images.runs_in_container(catalog, {"image": "busybox"})
    finally:
        images.set_container_engine(False)
    with pytest.raises(images.ImageNotRunnable):
        images.resolve_command(images.DEFAULT_CATALOG, {"image": "dev.local/orders:1"})


def test_run_args() -> None:
    spec = RunSpec(
        name=container_name("0123456789abcdef", "uid-1234567890-xyz", "web"),
        image="localhost/app:1",
        node_id="0123456789abcdef",
        pod_uid="uid-1",
        hostname="web-1",
        pod_ip="127.1.2.3",
        command=("sh", "-c"),
        args=("exec httpd",),
        env_names=("PORT",),
        working_dir="/srv",
        ports=(8080,),
        mounts=(Mount("/data/v", "/etc/v", read_only=True),),
        limits=limit_flags({"limits": {"memory": "64Mi", "cpu": "500m"}}, parse_quantity),
    )
    argv = run_args(spec)
    assert argv[:4] == ["run", "--rm", "--init", "--pull=never"]
    assert spec.name == "kawa-0123456789ab-uid-123456789-web"
    joined = " ".join(argv)
    for part in (
        "--label io.kawa.node=0123456789abcdef",
        "-p 127.1.2.3:8080:8080",
        "-e PORT",
        "-v /data/v:/etc/v:ro",
        "--workdir /srv",
        f"--memory {64 * 1024 * 1024}",
        "--cpus 0.5",
        '--entrypoint ["sh", "-c"] localhost/app:1 exec httpd',
    ):
        assert part in joined, (part, joined)


def test_kawa_urls_in_a_container_env_point_at_the_relay() -> None:
    from kawa.serving.kubelet.podman_run import to_container

    env = {
        "K_SINK": "http://127.0.0.1:8080/brokers/default/b",
        "OTHER": "http://localhost:8080/x http://127.0.0.1:9999/y",
        "PLAIN": "127.0.0.1:8080",
    }
    hosts = [("127.0.0.1", 8080), ("localhost", 8080)]
    assert to_container(env, hosts, ("10.88.0.1", 41000)) == {
        "K_SINK": "http://10.88.0.1:41000/brokers/default/b",
        "OTHER": "http://10.88.0.1:41000/x http://127.0.0.1:9999/y",
        "PLAIN": "127.0.0.1:8080",
    }
