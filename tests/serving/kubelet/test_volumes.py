"""ConfigMap and Secret volumes on the host (kawa.serving.kubelet.volumes): written when a
container starts, then kept up to date in place while it runs (a renewed OIDC token reaches
``/oidc/token``): a changed key's file is replaced in the same directory (what a container's
bind mount of it sees), a key gone is removed, an object gone leaves the files as they were."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from kawa.serving.kubelet import volumes
from kawa.serving.kubelet.podman import Mount
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

SECRET = ResourceKey("secrets", "default", "token")


def secret(**data: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "token", "namespace": "default"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
    "spec": {
        "containers": [
            {"name": "c", "volumeMounts": [{"name": "oidc", "mountPath": "/oidc"}]},
        ],
        "volumes": [{"name": "oidc", "secret": {"secretName": "token"}}],
    },
}


def inode_of(path: Path) -> int:
    return path.stat().st_ino


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_secret_volumes_follow_their_secret_in_place(tmp_path: Path) -> None:
    store = SqliteResourceStore(":memory:")
    try:
        await store.create(SECRET, secret(token=b"first", other=b"x"))
        assert await volumes.refresh(store, tmp_path, POD) == []  # not written yet
        (mount,) = await volumes.mounts(store, tmp_path, POD, POD["spec"]["containers"][0])
        directory = Path(mount.source)
        inode = inode_of(directory)
        assert (directory / "token").read_bytes() == b"first"
        assert await volumes.refresh(store, tmp_path, POD) == []  # nothing changed

        current = await store.get(SECRET)
        await store.update(SECRET, dict(current, data=secret(token=b"second")["data"]))
        assert await volumes.refresh(store, tmp_path, POD) == ["oidc"]
        assert (directory / "token").read_bytes() == b"second"
        assert not (directory / "other").exists()
        assert inode_of(directory) == inode  # the same directory: a bind mount sees it
        assert names_in(directory) == ["token"]  # no temporary file left

        await store.delete(SECRET)
        assert await volumes.refresh(store, tmp_path, POD) == []
        assert (directory / "token").read_bytes() == b"second"
    finally:
        await store.close()


def test_a_host_process_reads_the_volume_where_its_mount_path_is_named() -> None:
    """The process runtime has no mount namespace: mount paths in arguments, values and the
    working directory name the volume's host directory instead."""
    mounts = (
        Mount("/data/v/event", "/etc/jobsink-event", True),
        Mount("/data/v/nested", "/etc/jobsink-event/more/", True),
    )
    assert volumes.host_paths("/etc/jobsink-event/event", mounts) == "/data/v/event/event"
    assert volumes.host_paths("/etc/jobsink-event", mounts) == "/data/v/event"
    assert volumes.host_paths("--file=/etc/jobsink-event/event", mounts) == (
        "--file=/data/v/event/event"
    )
    assert volumes.host_paths("cat '/etc/jobsink-event/event'", mounts) == (
        "cat '/data/v/event/event'"
    )
    assert volumes.host_paths("a:/etc/jobsink-event/more/x", mounts) == "a:/data/v/nested/x"
    for untouched in ("/etc/jobsink-eventful", "x/etc/jobsink-event", "/etc/other", ""):
        assert volumes.host_paths(untouched, mounts) == untouched
    assert volumes.host_paths("/usr/bin", (Mount("/h", "/", False),)) == "/usr/bin"


def test_a_mount_path_is_replaced_once_even_inside_another_mounts_directory() -> None:
    """A mount at /var and kawa's data dir under /var/lib: the host directory put in for one
    mount path is not matched again by a shorter one."""
    mounts = (
        Mount("/var/lib/kawa/kubelet/volumes/u/event", "/etc/jobsink-event"),
        Mount("/var/lib/kawa/kubelet/volumes/u/scratch", "/var"),
    )
    assert (
        volumes.host_paths("cat /etc/jobsink-event/event /var/log/x", mounts)
        == "cat /var/lib/kawa/kubelet/volumes/u/event/event"
        " /var/lib/kawa/kubelet/volumes/u/scratch/log/x"
    )


async def test_a_refresh_never_writes_into_a_removed_pod(tmp_path: Path) -> None:
    store = SqliteResourceStore(":memory:")
    try:
        await store.create(SECRET, secret(token=b"first"))
        await volumes.mounts(store, tmp_path, POD, POD["spec"]["containers"][0])
        volumes.remove(tmp_path, "u1")
        assert await volumes.refresh(store, tmp_path, POD) == []
        assert not volumes.pod_dir(tmp_path, "u1").exists()
    finally:
        await store.close()
