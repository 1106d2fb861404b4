"""Sockets and bodies an attacker controls: compressed bombs, idle sockets, slowloris, slow bodies.

Before: gzip bodies were inflated on the event loop after the 413 was sent (509 KiB cost 1.1 s of
loop time; six clients delayed a probe by 7-9 s), and idle or slow connections stayed open forever.
Now: an encoded body is refused with 415 before a byte is read; idle and slow-header connections are
closed after --idle-timeout; a body that stalls or dribbles past --body-timeout gets 408. A slow but
steady legitimate 1 MiB chunk still lands. Timeouts bound hangs only; nothing here measures speed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import socket
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clients.admin import AdminClient
from clients.ic import Connection, generate_ed25519
from clients.ic.envelope import build_envelope, call_content
from contract import artifact_did
from emulator.candid import encode_args, parse_did
from tests.e2e.artifact_calls import CANISTER, Artifact, new_id
from tests.emulator_process import EmulatorProcess
from tests.security.conftest import probe_status

HANG_GUARD = 60.0
IDLE_TIMEOUT = 1.0
BODY_TIMEOUT = 8.0  # body-idle is a quarter of it: 2 s
DID = parse_did(artifact_did())


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("conns") / "state",
        canisters=[f"artifact={CANISTER}"],
        extra_args=["--quiet", "--idle-timeout", str(IDLE_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT)],
    ) as proc:
        yield proc


def _addr(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _connect(url: str) -> socket.socket:
    sock = socket.create_connection(_addr(url), timeout=HANG_GUARD)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (hang guard: HANG_GUARD)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _gzip_bomb(expanded: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    block = bytes(1 << 20)
    out = [compressor.compress(block) for _ in range(expanded >> 20)]
    out.append(compressor.flush())
    return b"".join(out)


def _post(url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    sock = _connect(url)
    with sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        # Refused before the whole body was sent, the answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.encode() + body)
        return _read_until_closed(sock)


def test_compressed_bodies_are_refused_unread_and_the_emulator_keeps_serving(emu: EmulatorProcess) -> None:
    bomb = _gzip_bomb(512 << 20)  # ~0.5 MB on the wire, 512 MiB inflated
    assert len(bomb) < 1 << 20
    pid = emu.proc.pid if emu.proc else 0
    rss_before = _rss_kib(pid)
    path = f"/api/v3/canister/{CANISTER}/call"
    headers = {"Content-Type": "application/cbor", "Content-Encoding": "gzip"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: _post(emu.url, path, bomb, headers), range(12)))
        assert probe_status(emu.url) == 200  # answered while the bombs are in flight
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 415 "), answer[:200]
        assert b"Unsupported Content-Encoding 'gzip'" in answer
    # Nothing was inflated: the process did not grow by anything like one bomb's 512 MiB.
    assert _rss_kib(pid) - rss_before < 64 * 1024
    for encoding in ("deflate", "br", "gzip, identity", "x-anything"):
        answer = _post(emu.url, path, gzip.compress(b"{}"), {"Content-Encoding": encoding})
        assert answer.startswith(b"HTTP/1.1 415 "), (encoding, answer[:120])


def test_idle_and_slow_header_connections_are_closed(emu: EmulatorProcess) -> None:
    idle = [_connect(emu.url) for _ in range(200)]
    slow = _connect(emu.url)
    slow.sendall(b"GET /api/v2/status HTTP/1.1\r\nHost: x\r\n")  # headers never finish
    sent_more = 0
    for sock in [*idle, slow]:
        with sock:
            if sock is slow:
                # Dribbling header bytes does not keep the connection alive.
                try:
                    for _ in range(20):
                        sock.sendall(b"X")
                        sent_more += 1
                        time.sleep(IDLE_TIMEOUT / 4)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            assert _read_until_closed(sock) == b""  # closed by the server, with no answer
    assert probe_status(emu.url) == 200


def test_a_stalled_body_gets_408(emu: EmulatorProcess) -> None:
    sock = _connect(emu.url)
    with sock:
        sock.sendall(
            f"POST /api/v3/canister/{CANISTER}/call HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/cbor\r\nContent-Length: 1000\r\n\r\n".encode()
            + b"\xd9\xd9\xf7"
        )
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"no body bytes arrived for 2 s (3 bytes received)" in answer


def test_a_dribbled_body_gets_408_when_the_whole_body_is_late(emu: EmulatorProcess) -> None:
    sock = _connect(emu.url)
    with sock:
        sock.sendall(
            f"POST /api/v3/canister/{CANISTER}/call HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/cbor\r\nContent-Length: 1000\r\n\r\n".encode()
        )
        try:
            for _ in range(1000):  # one byte a second is "alive" but never done
                sock.sendall(b"\x00")
                time.sleep(1.0)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"the body was not complete after 8 s" in answer


def test_a_slow_but_steady_chunk_upload_still_lands(emu: EmulatorProcess) -> None:
    identity = generate_ed25519()
    art = Artifact(Connection(emu.url, identity))
    chunk = os.urandom(1 << 20)
    memory_id = new_id()
    session = art.begin(memory_id, chunk, 1)
    arg = encode_args(DID.service["put_chunk"].args, [session["session_id"], 0, chunk])
    content = call_content(identity.sender().to_str(), CANISTER, "put_chunk", arg)
    envelope = build_envelope(content, identity)
    sock = _connect(emu.url)
    with sock:
        sock.sendall(
            f"POST /api/v3/canister/{CANISTER}/call HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Type: application/cbor\r\nContent-Length: {len(envelope)}\r\n\r\n".encode()
        )
        # ~1 MiB over ~5 s in 64 KiB pieces: slower than any agent, within the body deadline.
        for start in range(0, len(envelope), 64 * 1024):
            sock.sendall(envelope[start : start + 64 * 1024])
            time.sleep(0.3)
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert art.progress(session["session_id"])["bytes_received"] == len(chunk)
    art.commit(session["session_id"], chunk)
    stored = b"".join(AdminClient(emu.admin_url).download_asset(CANISTER, memory_id))
    assert hashlib.sha256(stored).digest() == hashlib.sha256(chunk).digest()
