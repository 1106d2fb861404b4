"""IC principals: raw bytes plus the textual form with its CRC32 checksum.

Shared by the Candid codec, the protocol core and the canisters, so it lives at the package root and
depends on nothing but the standard library.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass

MAX_PRINCIPAL_BYTES = 29
SELF_AUTHENTICATING_SUFFIX = 0x02
ANONYMOUS_BYTES = b"\x04"


class PrincipalError(ValueError):
    """A principal's text or bytes are not well formed."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An IC principal; compare and hash by raw bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) > MAX_PRINCIPAL_BYTES:
            raise PrincipalError(f"principal longer than {MAX_PRINCIPAL_BYTES} bytes")

    @classmethod
    def from_text(cls, text: str) -> Principal:
        compact = text.replace("-", "")
        if compact != compact.lower() or not compact:
            raise PrincipalError(f"invalid principal text: {text!r}")
        padded = compact.upper() + "=" * (-len(compact) % 8)
        try:
            data = base64.b32decode(padded)
        except ValueError as exc:
            raise PrincipalError(f"invalid principal text: {text!r}") from exc
        if len(data) < 4:
            raise PrincipalError(f"invalid principal text: {text!r}")
        checksum, raw = data[:4], data[4:]
        principal = cls(raw)
        if zlib.crc32(raw).to_bytes(4, "big") != checksum or principal.to_text() != text:
            raise PrincipalError(f"invalid principal text (checksum or grouping): {text!r}")
        return principal

    @classmethod
    def self_authenticating(cls, der_public_key: bytes) -> Principal:
        return cls(hashlib.sha224(der_public_key).digest() + bytes([SELF_AUTHENTICATING_SUFFIX]))

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(ANONYMOUS_BYTES)

    @classmethod
    def management(cls) -> Principal:
        return cls(b"")

    @property
    def is_anonymous(self) -> bool:
        return self.raw == ANONYMOUS_BYTES

    def to_text(self) -> str:
        data = zlib.crc32(self.raw).to_bytes(4, "big") + self.raw
        encoded = base64.b32encode(data).decode("ascii").lower().rstrip("=")
        return "-".join(encoded[i : i + 5] for i in range(0, len(encoded), 5))

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Principal({self.to_text()!r})"
