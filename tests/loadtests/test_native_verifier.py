"""The load generator's BLS check on gevent's native threads gives ``verify_bls``'s verdicts, exactly.

Same vectors as ``tests/clients/test_ic_bls.py`` (the agent-js/noble known answer and the malformed
encodings arkworks must refuse): the adapter only moves where the check runs.
"""

from __future__ import annotations

import threading

import pytest

from clients.ic.bls import verify_bls
from loadtests.client import verify_bls_on_native_thread
from tests.clients.ic_testkit import VECTORS, bls_keypair

V6 = VECTORS["V6_bls"]
SIG = bytes.fromhex(V6["signature_g1_compressed_hex"])
MSG = bytes.fromhex(V6["signed_message_hex"])
PK = bytes.fromhex(V6["public_key_g2_compressed_hex"])

CASES = [
    (SIG, MSG, PK),
    (SIG, MSG[:-1] + bytes([MSG[-1] ^ 1]), PK),
    (SIG, MSG, bls_keypair(b"someone else")[1][-96:]),
    (SIG[:-1], MSG, PK),
    (SIG, MSG, PK[:-1]),
    (b"\x00" * 48, MSG, PK),
    (b"\xff" * 48, MSG, PK),
    (SIG, MSG, bytes([0xC0]) + b"\x00" * 95),
    (bytes([SIG[0] ^ 0x20]) + SIG[1:], MSG, PK),
]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_same_verdict_as_verify_bls(case: tuple[bytes, bytes, bytes]) -> None:
    assert verify_bls_on_native_thread(*case) is verify_bls(*case)


def test_the_known_answer_is_the_only_case_that_verifies() -> None:
    assert [verify_bls_on_native_thread(*case) for case in CASES] == [True] + [False] * (len(CASES) - 1)


def test_concurrent_callers_each_get_their_own_verdict() -> None:
    # Eight threads (each with its own gevent hub and pool) alternate good and bad inputs.
    verdicts: dict[int, list[bool]] = {}

    def run(n: int) -> None:
        verdicts[n] = [verify_bls_on_native_thread(*CASES[(n + i) % 2]) for i in range(6)]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verdicts == {n: [(n + i) % 2 == 0 for i in range(6)] for n in range(8)}
