"""The CLI's token against a real ``kawa up``: over TLS only, and never to a stranger.

One kawa child: the CLI works through its server.json and through ``--server https://``
(verified against the data dir's certificate), refuses ``--server http://`` to the very
same kawa, and, once kawa is SIGKILLed and strangers listen on both its ports, says kawa is
not running while the strangers never see the token (issue #11, part 6).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..cli.peers import Peer, json_answer
from .e2e_support import kawa_up, run_cli

pytestmark = pytest.mark.slow


def test_token_goes_to_the_real_kawa_only(tmp_path: Path) -> None:
    with kawa_up(tmp_path, "--log-level", "warning") as kawa:
        data = ("--data-dir", str(kawa.data_dir))
        token = (kawa.data_dir / "token").read_bytes().strip()
        api_url = f"https://127.0.0.1:{kawa.api_port}"

        found = run_cli("get", "namespaces", "-o", "name", *data, cwd=tmp_path)
        assert found.code == 0, found.explain()
        assert "namespace/default" in found.stdout.splitlines()
        named = run_cli(
            "get", "ns", "default", "-o", "name", "--server", api_url, *data, cwd=tmp_path
        )
        assert (named.code, named.stdout.strip()) == (0, "namespace/default"), named.explain()
        plain = run_cli("get", "ns", "--server", kawa.url, *data, cwd=tmp_path)
        assert plain.code == 1, plain.explain()
        assert "only over TLS" in plain.stderr
        assert "Traceback" not in plain.stderr

        kawa.kill()
        assert (kawa.data_dir / "server.json").exists()  # SIGKILL leaves it behind
        answer = json_answer(200, {"kind": "Table", "columnDefinitions": [], "rows": []})
        with (
            Peer(lambda _: answer, port=kawa.port) as on_port,
            Peer(lambda _: answer, port=kawa.api_port) as on_api_port,
        ):
            stale = run_cli("get", "brokers", *data, cwd=tmp_path)
        assert stale.code == 1, stale.explain()
        assert "Traceback" not in stale.stderr
        assert "kawa is not running" in stale.stderr, stale.explain()
        assert f"pid {kawa.proc.pid if kawa.proc else '?'}" in stale.stderr
        assert on_api_port.connections == 1  # asked over TLS, and the handshake failed
        for stranger in (on_port, on_api_port):
            assert token not in stranger.everything()
            assert b"authorization" not in stranger.everything().lower()
