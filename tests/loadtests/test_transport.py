"""The load generator's HTTP transport (geventhttpclient under httpx) against a real emulator.

The ``Connection`` must not be able to tell it from httpx's own transport: same replies, same status
codes and texts for refusals, same exception types for network failures, large bodies intact.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import httpx
import pytest

from clients.ic import Connection, TransportError, generate_ed25519
from emulator.process import EmulatorProcess
from loadtests.transport import GeventTransport

DID = """\
service : {
  inc : () -> (nat64);
  get : () -> (nat64) query;
  echo_blob : (blob) -> (blob);
}
"""


def gevent_client(network_timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        transport=GeventTransport(max_connections=4, connect_timeout=5.0, network_timeout=network_timeout)
    )


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with gevent_client() as client:
        yield client


def test_calls_queries_and_read_state_verify_over_it(emulator: EmulatorProcess, http: httpx.Client) -> None:
    with Connection(emulator.url, generate_ed25519(), http=http) as conn:
        canister = conn.canister(emulator.example_canister_id, DID)
        before = canister.get()
        assert canister.inc() == before + 1
        assert canister.get() == before + 1
        cert = conn.read_state(emulator.example_canister_id, [[b"time"]])
        assert cert.time_ns > 0


def test_a_large_body_goes_and_comes_back_intact(emulator: EmulatorProcess, http: httpx.Client) -> None:
    blob = os.urandom(1_500_000)
    with Connection(emulator.url, generate_ed25519(), http=http) as conn:
        assert conn.canister(emulator.example_canister_id, DID).echo_blob(blob) == blob


def test_refusals_keep_their_status_and_text(emulator: EmulatorProcess, http: httpx.Client) -> None:
    url = f"{emulator.url}/api/v3/canister/{emulator.example_canister_id}/query"
    over_httpx = httpx.post(url, content=b"\xd9\xd9\xf7\xa0", headers={"content-type": "application/cbor"})
    over_gevent = http.post(url, content=b"\xd9\xd9\xf7\xa0", headers={"content-type": "application/cbor"})
    assert over_gevent.status_code == over_httpx.status_code == 400
    assert over_gevent.text == over_httpx.text
    cbor = {"content-type": "application/cbor"}
    too_big = http.post(url, content=b"\x00" * (3 * 1024 * 1024), headers=cbor)
    assert too_big.status_code == 413


def test_a_closed_port_is_a_transport_error(http: httpx.Client) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportError):
        Connection(f"http://127.0.0.1:{port}", http=http).status()


def test_a_silent_server_is_a_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with gevent_client(network_timeout=0.5) as http, pytest.raises(httpx.ReadTimeout):
            http.get(f"http://127.0.0.1:{server.getsockname()[1]}/api/v2/status")


def test_other_schemes_are_refused(http: httpx.Client) -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        http.get("ftp://127.0.0.1/x")
