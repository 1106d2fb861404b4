"""BLS12-381 verification in the IC's scheme, with arkworks (py-arkworks-bls12381).

The IC signs state roots with minimal-signature-size BLS: 48-byte compressed G1 signatures, 96-byte
compressed G2 public keys, hash-to-G1 with the ciphersuite DST below. The emulator signs with pyblst
(blst); the client verifies with arkworks on purpose. Two independent implementations mean a scheme
mistake (wrong DST, wrong group, wrong byte order) cannot hide by being made identically on both sides.

Which parts hold the GIL (measured with ``benchmarks/verify_overlap.py`` and py-spy ``--gil`` on a
gallery upload): arkworks' pairing check (~1.3 ms, two thirds of a verification) runs without it, so
threads verifying at the same time overlap it; point decompression with its subgroup check and
hash-to-curve (~0.5 ms together) hold it. A public key is therefore decoded and checked once and
kept (a client checks every certificate against the same root key), which removes the costlier
of the two decompressions from every verification.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from py_arkworks_bls12381 import GT, G1Point, G2Point

__all__ = ["BLS_DST", "BLS_PUBLIC_KEY_LEN", "BLS_SIGNATURE_LEN", "BlsVerifier", "verify_bls"]

BlsVerifier = Callable[[bytes, bytes, bytes], bool]
"""``(signature48, message, public_key96) -> bool``, the shape of ``verify_bls``.

A seam, not a second implementation: a caller may choose *where* ``verify_bls`` runs (the load
generator runs it on gevent's native thread pool, see ``loadtests/client.py``); whatever it passes
must return ``verify_bls``'s verdict, and the certificate code waits for that verdict before it reads
anything from the certificate it covers."""

BLS_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
BLS_SIGNATURE_LEN = 48
BLS_PUBLIC_KEY_LEN = 96

_G2_GENERATOR_NEG = -G2Point()
_G2_IDENTITY = G2Point.identity()


@functools.lru_cache(maxsize=64)
def _public_key(public_key96: bytes) -> G2Point | None:
    """The checked G2 point of a canonical, non-identity key, or None for a key that never verifies.

    Cached: the result depends only on the bytes, the points are immutable, and a client meets a
    handful of keys (the root key, a few subnet keys), so 64 entries never evict a key in use.
    """
    try:
        # from_compressed_bytes checks that the point is on the curve and in the prime subgroup.
        pk = G2Point.from_compressed_bytes(public_key96)
    except ValueError:
        return None
    # arkworks accepts some non-canonical encodings; blst does not (see verify_bls).
    if pk.to_compressed_bytes() != public_key96 or pk == _G2_IDENTITY:
        return None
    return pk


def verify_bls(signature48: bytes, message: bytes, public_key96: bytes) -> bool:
    """Return whether ``signature48`` is ``public_key96``'s signature of ``message``.

    Malformed or non-canonical encodings return False rather than raising, so callers have one
    failure path. The identity public key is refused: with it, the identity signature would verify
    for every message.
    """
    signature48, message, public_key96 = bytes(signature48), bytes(message), bytes(public_key96)
    if len(signature48) != BLS_SIGNATURE_LEN or len(public_key96) != BLS_PUBLIC_KEY_LEN:
        return False
    pk = _public_key(public_key96)
    if pk is None:
        return False
    try:
        # from_compressed_bytes checks that the point is on the curve and in the prime subgroup.
        sig = G1Point.from_compressed_bytes(signature48)
        # arkworks accepts some non-canonical encodings (b"\xff" * 48 decodes to the identity);
        # blst does not, so insist that the bytes are the one canonical encoding of the point.
        if sig.to_compressed_bytes() != signature48:
            return False
        hashed = G1Point.hash_to_curve(message, BLS_DST)
        # e(sig, -g2) * e(H(m), pk) == 1  <=>  e(sig, g2) == e(H(m), pk)
        return GT.pairing_check([sig, hashed], [_G2_GENERATOR_NEG, pk])
    except ValueError:
        return False
