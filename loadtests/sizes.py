"""Asset sizes drawn from a distribution, and asset bytes made up on demand.

Why a distribution and not one size: a gallery of real photos is mostly web-sized JPEGs with a long
tail of large originals. A single fixed size would hide size-dependent costs (hashing, chunk writes,
the fsync per commit) and make every memory's latency identical, which no real gallery shows.

The default for gallery assets is **lognormal with a median of 200 KiB and sigma 0.6**, floored at
4 KiB and capped at 1 MiB. Why those numbers: web-optimised photos (the "small asset" a gallery app
keeps per memory) cluster around 100-500 KiB and are right-skewed; with sigma 0.6 about 68 % of draws
fall between ~110 and ~360 KiB and ~1 % reach the cap. The cap keeps every gallery asset a single
chunk (the contract's max chunk is 1 MiB); multi-chunk behaviour is the BigUploader's job. Profiles
can change every parameter.

``SyntheticAsset`` exists because a 100 MiB asset per concurrent uploader would cost 100 MB of memory
and ~0.3 s of ``os.urandom`` each time; it serves deterministic bytes for any offset instead, so the
uploader can hash and re-read chunks without the asset ever being held whole.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

__all__ = ["Distribution", "SizeDistribution", "SyntheticAsset"]

Distribution = Literal["lognormal", "uniform", "fixed"]
_KINDS: tuple[Distribution, ...] = ("lognormal", "uniform", "fixed")


@dataclass(frozen=True, slots=True)
class SizeDistribution:
    """Sizes in bytes: ``lognormal`` (``median``, ``sigma``), ``uniform`` or ``fixed``, clamped to [min, max].

    Clamping rather than redrawing: redrawing out-of-range values would silently change the median
    the profile states; clamping keeps it and makes the cap show up as a visible spike at ``max``.
    """

    kind: Distribution
    min: int
    max: int
    median: int | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"distribution must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        if self.min < 0 or self.max < self.min:
            raise ValueError(f"need 0 <= min <= max, got min={self.min} max={self.max}")
        if self.kind == "lognormal":
            if self.median is None or self.sigma is None:
                raise ValueError("a lognormal size distribution needs median and sigma")
            if self.median <= 0 or self.sigma < 0:
                raise ValueError("lognormal needs median > 0 and sigma >= 0")
            if not self.min <= self.median <= self.max:
                raise ValueError("lognormal median must lie within [min, max]")
        if self.kind == "fixed" and self.min != self.max:
            raise ValueError("a fixed size distribution needs min == max")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SizeDistribution:
        known = {"distribution", "min", "max", "median", "sigma", "size"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown size distribution keys: {', '.join(sorted(unknown))}")
        kind = raw.get("distribution")
        if kind == "fixed" and "size" in raw:
            size = _int(raw, "size")
            return cls("fixed", size, size)
        median = raw.get("median")
        sigma = raw.get("sigma")
        return cls(
            kind=kind,  # type: ignore[arg-type]  # checked in __post_init__
            min=_int(raw, "min"),
            max=_int(raw, "max"),
            median=None if median is None else int(median),
            sigma=None if sigma is None else float(sigma),
        )

    def sample(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return self.min
        if self.kind == "uniform":
            return rng.randint(self.min, self.max)
        assert self.median is not None and self.sigma is not None
        drawn = rng.lognormvariate(math.log(self.median), self.sigma)
        return max(self.min, min(self.max, round(drawn)))

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed {self.min} B"
        if self.kind == "uniform":
            return f"uniform {self.min}-{self.max} B"
        return f"lognormal median {self.median} B sigma {self.sigma} clamped to {self.min}-{self.max} B"


def _int(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"size distribution {key} must be an integer number of bytes, got {value!r}")
    return value


class SyntheticAsset(io.RawIOBase):
    """A seekable, read-only stream of ``size`` pseudo-random bytes that never exist whole in memory.

    Byte ``i`` is ``pattern[(i + shift) % len(pattern)]``: one random pattern per process keeps the
    cost at a slice per read, and a random ``shift`` per asset makes each asset's SHA-256 differ (the
    canister refuses a second commit of identical bytes for the same memory, and realistic loads do
    not upload one file over and over).
    """

    _PATTERN_SIZE = 1024 * 1024 + 7  # not a power of two: chunk boundaries do not repeat the pattern
    _pattern: bytes | None = None

    def __init__(self, size: int, rng: random.Random) -> None:
        super().__init__()
        if size < 0:
            raise ValueError("size must be >= 0")
        self.size = size
        self._shift = rng.randrange(self._PATTERN_SIZE)
        self._pos = 0
        if SyntheticAsset._pattern is None:
            SyntheticAsset._pattern = random.Random(0x5F0E).randbytes(self._PATTERN_SIZE)

    @classmethod
    def open(cls, size: int, rng: random.Random) -> BinaryIO:
        """The asset as a buffered binary stream (what the uploader accepts as a source)."""
        return io.BufferedReader(cls(size, rng), buffer_size=64 * 1024)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self.size - self._pos))
        pattern = SyntheticAsset._pattern
        assert pattern is not None
        done = 0
        while done < want:
            start = (self._pos + done + self._shift) % len(pattern)
            n = min(want - done, len(pattern) - start)
            view[done : done + n] = pattern[start : start + n]
            done += n
        self._pos += done
        return done
