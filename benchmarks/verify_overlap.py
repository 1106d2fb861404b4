"""Which of the client's per-call native work overlaps across threads (does it release the GIL?).

Issue 13 asks to re-measure before designing: the earlier write-up said arkworks holds the GIL, a
later measurement said it does not. For each piece of work a call does on the client, this runs the
same number of operations through a thread pool of 1, 2 and 4 threads and prints the wall time per
operation. Work that releases the GIL gets cheaper per operation with 2 threads on 2 free cores;
work that holds it does not (or gets dearer: the threads fight over the GIL).

* ``bls``: ``clients.ic.bls.verify_bls`` (arkworks), one pairing check;
* ``certificate``: ``verify_certificate`` of a certificate shaped like an emulator's update reply
  (tree parse, hash-tree digest in Python, the BLS check, /time);
* ``query_sig``: ``verify_query_response`` of one signed query reply (icp-py-core's request-id hash
  of the reply in Python + a PyNaCl Ed25519 verify);
* ``ed25519_sign``: the request signature (PyNaCl);
* ``request_id``: icp-py-core's ``to_request_id`` of a call content with a small argument and with a
  1 MiB argument (a put_chunk);
* ``cbor``: encoding an envelope and decoding a reply with cbor2;
* ``sha256_1mib``: hashlib over 1 MiB (known to release the GIL above 2 KiB): the control that
  overlaps;
* ``python_loop``: a pure-Python loop of about the same length: the control that cannot overlap;
* ``bls_parts``: the pieces of ``verify_bls`` one by one (point decompression with subgroup checks,
  hash-to-curve, the pairing check), to see which of them hold the GIL.

Besides the wall time per operation, each cell shows the cores the process used (CPU time / wall
time). On a shared, busy machine wall times say little, but a process whose threads hold the GIL
cannot use more than one core, whatever the load: a figure clearly above 1.0 with 2 threads means the
work ran in parallel; compare it with the two controls of the same run.

    python -m benchmarks.verify_overlap --ops 400 --threads 1 2 4

Figures are machine- and load-dependent: read them as the ratio between thread counts of one run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cbor2
from nacl.signing import SigningKey
from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

from clients.ic import generate_ed25519
from clients.ic.bls import BLS_DST, verify_bls
from clients.ic.certificates import BLS_DER_PREFIX, verify_certificate
from clients.ic.envelope import call_content, request_id
from clients.ic.identity import ED25519_DER_PREFIX
from clients.ic.signatures import query_response_signable, verify_query_response
from contract import ARTIFACT_CANISTER_ID

_R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
MIB = 1024 * 1024


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ds(name: str) -> bytes:
    return bytes([len(name)]) + name.encode()


def _digest(node: list[Any]) -> bytes:
    tag = node[0]
    if tag == 1:
        return hashlib.sha256(_ds("ic-hashtree-fork") + _digest(node[1]) + _digest(node[2])).digest()
    if tag == 2:
        return hashlib.sha256(_ds("ic-hashtree-labeled") + node[1] + _digest(node[2])).digest()
    if tag == 3:
        return hashlib.sha256(_ds("ic-hashtree-leaf") + node[1]).digest()
    return bytes(node[1])


def _sample_certificate() -> tuple[bytes, bytes, bytes]:
    """(certificate CBOR, root key DER, request id): an update reply's shape, signed here."""
    sk = int.from_bytes(hashlib.sha256(b"verify-overlap").digest(), "big") % _R
    root_der = BLS_DER_PREFIX + (G2Point() * Scalar(sk)).to_compressed_bytes()
    rid = os.urandom(32)
    status = [2, b"status", [3, b"replied"]]
    reply = [2, b"reply", [3, b"DIDL\x00\x01\x7d\x01"]]
    tree = [
        1,
        [2, b"request_status", [2, rid, [1, reply, status]]],
        [2, b"time", [3, _leb128(time.time_ns())]],
    ]
    message = _ds("ic-state-root") + _digest(tree)
    sig = (G1Point.hash_to_curve(message, BLS_DST) * Scalar(sk)).to_compressed_bytes()
    cert = cbor2.dumps(cbor2.CBORTag(55799, {"tree": tree, "signature": sig}))
    return cert, root_der, rid


def workloads() -> dict[str, Callable[[], object]]:
    cert, root_der, _ = _sample_certificate()
    message = b"\x0dic-state-root" + os.urandom(32)
    sk = int.from_bytes(hashlib.sha256(b"bls").digest(), "big") % _R
    pk = (G2Point() * Scalar(sk)).to_compressed_bytes()
    sig = (G1Point.hash_to_curve(message, BLS_DST) * Scalar(sk)).to_compressed_bytes()

    node = SigningKey(hashlib.sha256(b"node").digest())
    node_id = b"\x01" * 29
    node_keys = {node_id: ED25519_DER_PREFIX + bytes(node.verify_key)}
    rid = os.urandom(32)
    answer: dict[str, Any] = {"status": "replied", "reply": {"arg": b"DIDL\x00\x01\x7d\x01"}}
    ts = time.time_ns()
    node_sig = node.sign(query_response_signable(answer, rid, ts)).signature
    answer["signatures"] = [{"timestamp": ts, "identity": node_id, "signature": node_sig}]

    identity = generate_ed25519()
    sender = bytes(identity.sender().bytes)
    small = call_content(sender, ARTIFACT_CANISTER_ID, "inc", b"DIDL\x00\x00")
    chunk = os.urandom(MIB)
    big = call_content(sender, ARTIFACT_CANISTER_ID, "put_chunk", chunk)
    envelope = {"content": small, "sender_pubkey": identity.der_pubkey, "sender_sig": os.urandom(64)}
    reply_bytes = cbor2.dumps(cbor2.CBORTag(55799, {"status": "replied", "certificate": cert}))
    to_sign = b"\x0aic-request" + rid

    def check_bls() -> None:
        assert verify_bls(sig, message, pk)

    sig_point, pk_point = G1Point.from_compressed_bytes(sig), G2Point.from_compressed_bytes(pk)
    hashed, neg_g2 = G1Point.hash_to_curve(message, BLS_DST), -G2Point()

    return {
        "bls": check_bls,
        "certificate": lambda: verify_certificate(cert, root_der),
        "query_sig": lambda: verify_query_response(answer, rid, node_keys),
        "ed25519_sign": lambda: identity.sign(to_sign),
        "request_id_small": lambda: request_id(small),
        "request_id_1mib": lambda: request_id(big),
        "cbor_envelope_encode": lambda: cbor2.dumps(cbor2.CBORTag(55799, envelope)),
        "cbor_reply_decode": lambda: cbor2.loads(reply_bytes[3:]),
        "sha256_1mib": lambda: hashlib.sha256(chunk).digest(),
        "python_loop": lambda: sum(range(15_000)),
        "bls_parts.g1_decompress": lambda: G1Point.from_compressed_bytes(sig),
        "bls_parts.g2_decompress": lambda: G2Point.from_compressed_bytes(pk),
        "bls_parts.hash_to_curve": lambda: G1Point.hash_to_curve(message, BLS_DST),
        "bls_parts.pairing_check": lambda: GT.pairing_check([sig_point, hashed], [neg_g2, pk_point]),
    }


def per_op_seconds(fn: Callable[[], object], ops: int, threads: int) -> tuple[float, float]:
    """(wall seconds per op, process CPU seconds per op) for ``ops`` calls over ``threads`` threads."""
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: fn(), range(threads * 2)))  # warm the threads
        wall, cpu = time.perf_counter(), time.process_time()
        list(pool.map(lambda _: fn(), range(ops)))
        return (time.perf_counter() - wall) / ops, (time.process_time() - cpu) / ops


def run(ops: int, threads: list[int], names: list[str] | None) -> dict[str, dict[int, tuple[float, float]]]:
    loads = workloads()
    results: dict[str, dict[int, tuple[float, float]]] = {}
    for name, fn in loads.items():
        if names and name not in names:
            continue
        # Cheap operations get more repetitions so the pool's own overhead is measured too.
        costly = {"bls", "certificate", "request_id_1mib", "sha256_1mib", "python_loop"}
        costly.add("bls_parts.pairing_check")
        scaled = ops if name in costly else ops * 10
        results[name] = {t: per_op_seconds(fn, scaled, t) for t in threads}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=400)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    results = run(args.ops, args.threads, args.only)
    head = "".join(f" | {t} thread{'s' if t > 1 else ''}: wall/op, cores" for t in args.threads)
    print(f"{'work':24}{head} | wall/op 1 vs {args.threads[-1]}")
    for name, by_threads in results.items():
        cells = "".join(f" | {w * 1e6:9.1f} µs  {c / w:4.2f}" for w, c in by_threads.values())
        first, last = by_threads[args.threads[0]][0], by_threads[args.threads[-1]][0]
        print(f"{name:24}{cells} | {first / last:5.2f}×")


if __name__ == "__main__":
    main()
