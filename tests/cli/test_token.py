"""The CLI never sends its token to a stranger (issue #11, part 6).

Every peer here is a real listener on loopback that records what reaches it. A stale
``server.json`` (kawa killed, something else on its ports), a live pid with a stranger on
the port, ``--server http://...`` and a redirect must all end in a clear error, and the
stranger must never see the token; only a server proving it holds kawa's certificate (or the
one ``--certificate-authority`` names) gets it. ``kawa send`` sends no token at all.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from .conftest import Cli
from .peers import Peer, certificate, dead_pid, http_answer, json_answer, write_server_file

EMPTY_TABLE = {
    "kind": "Table",
    "apiVersion": "meta.k8s.io/v1",
    "columnDefinitions": [{"name": "Name", "type": "string"}],
    "rows": [],
}


def plain_ok(request: bytes) -> bytes:
    return json_answer(200, EMPTY_TABLE)


def never_saw(token: bytes, *peers: Peer) -> None:
    for peer in peers:
        seen = peer.everything()
        assert token not in seen, seen
        assert b"authorization" not in seen.lower(), seen


def test_a_stale_server_file_sends_nothing_to_the_stranger_on_its_ports(
    cli: Cli, data_dir: Path, token: bytes, kawa_tls: ssl.SSLContext
) -> None:
    pid = dead_pid()
    with Peer(plain_ok) as on_url, Peer(plain_ok) as on_api_url:
        write_server_file(data_dir, on_url.http_url, on_api_url.https_url, pid)
        run = cli("get", "brokers", "--data-dir", str(data_dir))
    run.assert_clear_error(
        "kawa is not running", f"pid {pid}", "stale", f"kawa up --data-dir {data_dir}"
    )
    never_saw(token, on_url, on_api_url)


def test_a_stranger_with_a_certificate_of_its_own_gets_no_token(
    cli: Cli, data_dir: Path, token: bytes, kawa_tls: ssl.SSLContext, tmp_path: Path
) -> None:
    _, own = certificate(tmp_path / "stranger")  # valid for 127.0.0.1, but not kawa's key
    with Peer(plain_ok) as on_url, Peer(plain_ok, tls=own) as on_api_url:
        write_server_file(data_dir, on_url.http_url, on_api_url.https_url)  # our pid: alive
        run = cli("get", "brokers", "--data-dir", str(data_dir))
    run.assert_clear_error(
        f"{on_api_url.https_url} did not prove it is kawa", "tls/server.crt", "self-signed"
    )
    assert on_api_url.connections == 1  # it was asked, and refused before any request
    assert on_api_url.received == [b""]
    never_saw(token, on_url, on_api_url)


@pytest.mark.parametrize(
    "server",
    ["http://127.0.0.1:{port}", "http://localhost:{port}", "http://192.0.2.1:7080"],
    ids=["loopback", "localhost", "another host"],
)
def test_plain_http_server_is_refused_before_connecting(
    cli: Cli, data_dir: Path, token: bytes, server: str
) -> None:
    with Peer(plain_ok) as stranger:
        url = server.format(port=stranger.port)
        run = cli("get", "brokers", "--data-dir", str(data_dir), "--server", url)
    run.assert_clear_error(f"--server {url}", "only over TLS", "https://")
    assert stranger.connections == 0
    never_saw(token, stranger)


def test_https_server_is_verified_against_the_data_dirs_certificate(
    cli: Cli, data_dir: Path, token: bytes, kawa_tls: ssl.SSLContext, tmp_path: Path
) -> None:
    own_cert, own = certificate(tmp_path / "stranger")
    with Peer(plain_ok, tls=own) as stranger, Peer(plain_ok, tls=kawa_tls) as kawa:
        refused = cli("get", "brokers", "--data-dir", str(data_dir), "--server", stranger.https_url)
        trusted = cli("get", "brokers", "--data-dir", str(data_dir), "--server", kawa.https_url)
        # --certificate-authority: the user vouches for this server, which then gets the token
        vouched = cli(
            "get",
            "brokers",
            "--data-dir",
            str(data_dir),
            "--server",
            stranger.https_url,
            "--certificate-authority",
            str(own_cert),
        )
    refused.assert_clear_error("did not prove it is kawa", str(data_dir / "tls/server.crt"))
    assert trusted.code == 0, trusted.explain()
    assert "No resources found" in trusted.stderr
    assert b"Authorization: Bearer " + token in kawa.everything()
    assert vouched.code == 0, vouched.explain()
    assert stranger.received[0] == b""  # the refused handshake
    assert token in stranger.received[1]


def test_https_server_without_a_data_dir_certificate_uses_the_system_authorities(
    cli: Cli, tmp_path: Path, token: bytes
) -> None:
    data_dir = tmp_path / "data"  # has a token, no certificate
    _, own = certificate(tmp_path / "stranger")
    with Peer(plain_ok, tls=own) as stranger:
        run = cli("get", "brokers", "--data-dir", str(data_dir), "--server", stranger.https_url)
    run.assert_clear_error("did not prove it is kawa", "the system's certificate authorities")
    never_saw(token, stranger)


def test_server_file_without_kawas_certificate_is_not_trusted(
    cli: Cli, data_dir: Path, token: bytes
) -> None:
    with Peer(plain_ok) as stranger:
        write_server_file(data_dir, stranger.http_url, stranger.https_url)
        run = cli("get", "brokers", "--data-dir", str(data_dir))
    run.assert_clear_error("tls/server.crt does not exist", "nothing proves")
    assert stranger.connections == 0


def test_a_redirect_is_not_followed(
    cli: Cli, data_dir: Path, token: bytes, kawa_tls: ssl.SSLContext
) -> None:
    with Peer(plain_ok) as stranger:
        moved = http_answer(307, b"", headers=(("Location", f"{stranger.http_url}/x"),))
        with Peer(lambda _: moved, tls=kawa_tls) as kawa, Peer(lambda _: moved) as plain:
            write_server_file(data_dir, plain.http_url, kawa.https_url)
            run = cli("get", "brokers", "--data-dir", str(data_dir))
    run.assert_clear_error("Error from server (307)")
    assert stranger.connections == 0
    never_saw(token, stranger)


def test_send_carries_no_token(
    cli: Cli, data_dir: Path, token: bytes, kawa_tls: ssl.SSLContext
) -> None:
    with Peer(lambda _: http_answer(202)) as ingress:
        broker = {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {"name": "default", "namespace": "default"},
            "status": {"address": {"url": f"{ingress.http_url}/brokers/default/default"}},
        }
        with Peer(lambda _: json_answer(200, broker), tls=kawa_tls) as kawa:
            write_server_file(data_dir, ingress.http_url, kawa.https_url)
            to_broker = cli(
                "send", "--broker", "default", "--type", "t.1", "--data-dir", str(data_dir)
            )
            to_url = cli(
                "send", "--to", ingress.http_url, "--type", "t.2", "--data-dir", str(data_dir)
            )
    assert (to_broker.code, to_broker.stdout.strip()) == (0, "202 Whatever"), to_broker.explain()
    assert (to_url.code, to_url.stdout.strip()) == (0, "202 Whatever"), to_url.explain()
    assert len(ingress.received) == 2
    assert b"ce-type: t.1" in ingress.received[0].lower()
    assert b"ce-type: t.2" in ingress.received[1].lower()
    never_saw(token, ingress)
    assert token in kawa.everything()  # the broker's address was asked of kawa, with the token


def test_a_wildcard_bind_address_is_reached_on_loopback(
    cli: Cli, data_dir: Path, token: bytes, kawa_tls: ssl.SSLContext
) -> None:
    with Peer(plain_ok, tls=kawa_tls) as kawa:
        write_server_file(data_dir, "http://0.0.0.0:1", f"https://0.0.0.0:{kawa.port}")
        run = cli("get", "brokers", "--data-dir", str(data_dir))
    assert run.code == 0, run.explain()
    assert token in kawa.everything()
