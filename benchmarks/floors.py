"""The client half of the floors: what an honest update, query or upload costs at the very least.

* update floor = one bare round trip with the same pooled `httpx.Client` the `Connection` uses +
  the client's Ed25519 request signature (the same `Ed25519Identity`) + the server's verify, one
  fsynced SQLite commit and one BLS signature + the client's BLS verify with arkworks
  (`clients.ic.bls.verify_bls`, what `Connection` verifies certificates with);
* query floor = bare round trip + client signature + server verify + the server's Ed25519 reply
  signature + the client's check of it (the `Connection` checks query signatures by default);
* upload floor = SHA-256 of the bytes + a loopback transfer of them (1 MiB POSTs to `/sink` at the
  same concurrency as the upload it normalises).

The server half is `benchmarks.floor_server`.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from nacl.signing import VerifyKey

from clients.ic import generate_ed25519
from clients.ic.bls import verify_bls

REQUEST_DOMAIN = b"\x0aic-request"
_HEADERS = {"Content-Type": "application/octet-stream"}


class FloorClient:
    def __init__(self, url: str, http: httpx.Client | None = None) -> None:
        self.url = url
        self.http = http or httpx.Client(timeout=30.0)
        self.identity = generate_ed25519()
        keys = self.http.get(f"{url}/keys").content
        self.bls_key, self.node_key = keys[:96], VerifyKey(keys[96:128])

    def close(self) -> None:
        self.http.close()

    def _signed_body(self) -> tuple[bytes, bytes]:
        # The message is what the IC signs: domain separator + a 32-byte request id.
        message = REQUEST_DOMAIN + os.urandom(32)
        der, sig = self.identity.sign(message)
        assert der is not None and sig is not None
        return message, der[-32:] + sig + message

    def update(self) -> None:
        message, body = self._signed_body()
        response = self.http.post(f"{self.url}/update", content=body, headers=_HEADERS)
        response.raise_for_status()
        if not verify_bls(response.content, hashlib.sha256(message).digest(), self.bls_key):
            raise AssertionError("floor BLS signature did not verify")

    def query(self) -> None:
        _, body = self._signed_body()
        response = self.http.post(f"{self.url}/query", content=body, headers=_HEADERS)
        response.raise_for_status()
        reply = response.content
        self.node_key.verify(reply[64:], reply[:64])

    def transfer(self, count: int, chunk: bytes, concurrency: int) -> float:
        """Seconds to POST `count` copies of `chunk` to `/sink`, `concurrency` at a time."""

        def send(_: int) -> None:
            response = self.http.post(f"{self.url}/sink", content=chunk, headers=_HEADERS)
            response.raise_for_status()

        started = time.perf_counter()
        if concurrency == 1:
            for i in range(count):
                send(i)
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(send, range(count)))
        return time.perf_counter() - started


def sha256_seconds(chunks: int, chunk: bytes) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    for _ in range(chunks):
        digest.update(chunk)
    digest.digest()
    return time.perf_counter() - started
