"""LEB128 / SLEB128, the variable-length integers of the Candid binary format.

Reading is linear in the encoding's length even for huge numbers (an untrusted `nat` may span the whole
message; shifting a growing int byte by byte would be quadratic).
"""

from __future__ import annotations

import re

from emulator.candid.types import CandidError

_LAST_BYTE = re.compile(rb"[\x00-\x7f]")
_LOW7 = bytes(b & 0x7F for b in range(256))


def encode_uleb(n: int) -> bytes:
    if n < 0:
        raise CandidError("LEB128 of a negative number")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def encode_sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def leb_end(data: bytes, pos: int) -> int:
    """Where the LEB128 number at `pos` ends, found without decoding it (to price it first)."""
    return _span(data, pos, None)


def _span(data: bytes, pos: int, max_bytes: int | None) -> int:
    """End of the LEB128 number starting at `pos`; `max_bytes` rejects overlong fixed-width quantities."""
    end = len(data) if max_bytes is None else min(len(data), pos + max_bytes)
    m = _LAST_BYTE.search(data, pos, end)
    if m is None:
        if end < len(data):
            raise CandidError("LEB128 number too long")
        raise CandidError("unexpected end of input in LEB128 number")
    return m.end()


def _base128(digits: bytes) -> int:
    """Little-endian base-128 digits to int, repacked 8 digits (56 bits) at a time into whole bytes."""
    packed = bytearray()
    for i in range(0, len(digits), 8):
        word = 0
        for j, d in enumerate(digits[i : i + 8]):
            word |= d << (7 * j)
        packed += word.to_bytes(7, "little")
    return int.from_bytes(packed, "little")


def read_uleb(data: bytes, pos: int, max_bytes: int | None = None) -> tuple[int, int]:
    """Decode an unsigned LEB128 at `pos`; returns (value, position after it)."""
    if pos < len(data) and data[pos] < 0x80:
        return data[pos], pos + 1
    end = _span(data, pos, max_bytes)
    return _base128(data[pos:end].translate(_LOW7)), end


def read_sleb(data: bytes, pos: int, max_bytes: int | None = None) -> tuple[int, int]:
    """Decode a signed LEB128 at `pos`; returns (value, position after it)."""
    end = _span(data, pos, max_bytes)
    digits = data[pos:end].translate(_LOW7)
    value = _base128(digits)
    if digits[-1] & 0x40:
        value -= 1 << (7 * len(digits))
    return value, end
