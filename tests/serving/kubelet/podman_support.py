"""podman for the tests: whether it can run here, and the test image built locally.

Images cannot be pulled here, so :func:`build_image` makes ``IMAGE`` from Debian's
busybox-static (``podman import`` of a small rootfs), as a user would after ``podman build``.
:func:`require` skips a test where podman cannot run, and fails it under ``CI=true``
(``./dev install`` installs podman there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Final

import pytest

from kawa.serving.kubelet.podman import CONTAINERS_CONF

IMAGE: Final = "localhost/kawa-test/busybox:1"
INDEX: Final = "hello from a container\n"
BUSYBOX: Final = Path("/bin/busybox")
APPLETS: Final = (
    *("sh", "httpd", "cat", "sleep", "echo", "ls", "test", "true", "stty", "tty"),
    *("id", "pwd", "wget", "touch", "env"),
)


def unavailable() -> str:
    """Why podman cannot run the tests here ("" when it can)."""
    if shutil.which("podman") is None:
        return "podman is not installed (./dev install installs it)"
    if shutil.which("runc") is None:
        return "runc is not installed (./dev install installs it)"
    if not BUSYBOX.exists() or b"statically linked" not in _file(BUSYBOX):
        return "no static /bin/busybox (Debian's busybox-static) to build the test image from"
    return ""


def require() -> None:
    """Skip the test where podman cannot run; fail it under ``CI=true``."""
    why = unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI: {why}")
        pytest.skip(why)


def _file(path: Path) -> bytes:
    done = subprocess.run(["file", "-L", str(path)], capture_output=True, check=False)
    return done.stdout if done.returncode == 0 else b"statically linked"  # no file(1): try


def podman(conf: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    return subprocess.run(
        ["podman", *args], env=env, capture_output=True, text=True, check=check, timeout=60
    )


def write_conf(workdir: Path) -> Path:
    """kawa's containers.conf in ``workdir`` (for the tests' own podman calls)."""
    conf = workdir / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return conf


def build_image(workdir: Path, conf: Path) -> None:
    """``IMAGE``: busybox-static, an index page, a default command serving it on $PORT, and
    no ``User`` (it runs as root)."""
    tar = workdir / "rootfs.tar"
    with tarfile.open(tar, "w") as archive:
        archive.add(BUSYBOX, "bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
        for directory in ("tmp", "www", "etc"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            archive.addfile(info)
        page = workdir / "index.html"
        page.write_text(INDEX)
        archive.add(page, "www/index.html")
    podman(
        conf,
        "import",
        "--change",
        'CMD ["sh", "-c", "exec httpd -f -p ${PORT:-8080} -h /www"]',
        "--change",
        "ENV PATH=/bin",
        str(tar),
        IMAGE,
    )
