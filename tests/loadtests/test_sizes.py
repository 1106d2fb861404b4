"""Asset size distributions and the synthetic asset stream the BigUploader uploads."""

from __future__ import annotations

import hashlib
import random
import statistics

import pytest

from clients.artifact.uploader import open_source
from loadtests.sizes import SizeDistribution, SyntheticAsset

KIB = 1024
MIB = 1024 * KIB
GALLERY = SizeDistribution("lognormal", min=4 * KIB, max=MIB, median=200 * KIB, sigma=0.6)


def test_lognormal_sizes_centre_on_the_median_and_stay_in_bounds() -> None:
    rng = random.Random(1)
    sizes = [GALLERY.sample(rng) for _ in range(20_000)]
    assert all(4 * KIB <= s <= MIB for s in sizes)
    assert statistics.median(sizes) == pytest.approx(200 * KIB, rel=0.03)
    # right-skewed: the mean is above the median, as for real photo sizes
    assert statistics.mean(sizes) > statistics.median(sizes)
    # sigma 0.6: ~68 % of draws within one sigma of the median (before clamping, which touches ~1 %)
    inside = sum(200 * KIB * 0.5488 <= s <= 200 * KIB * 1.8221 for s in sizes) / len(sizes)
    assert inside == pytest.approx(0.68, abs=0.02)
    capped = sum(s == MIB for s in sizes) / len(sizes)
    assert 0.001 < capped < 0.01


def test_samples_are_reproducible_from_the_seed() -> None:
    assert [GALLERY.sample(random.Random(7)) for _ in range(3)] == [
        GALLERY.sample(random.Random(7)) for _ in range(3)
    ]
    a, b = random.Random(7), random.Random(7)
    assert [GALLERY.sample(a) for _ in range(50)] == [GALLERY.sample(b) for _ in range(50)]


def test_uniform_and_fixed() -> None:
    rng = random.Random(2)
    uniform = SizeDistribution("uniform", min=2 * MIB, max=8 * MIB)
    sizes = [uniform.sample(rng) for _ in range(2000)]
    assert min(sizes) >= 2 * MIB and max(sizes) <= 8 * MIB
    assert statistics.mean(sizes) == pytest.approx(5 * MIB, rel=0.05)
    fixed = SizeDistribution.from_mapping({"distribution": "fixed", "size": 1234})
    assert {fixed.sample(rng) for _ in range(10)} == {1234}


def test_from_mapping_reads_profile_tables() -> None:
    dist = SizeDistribution.from_mapping(
        {"distribution": "lognormal", "median": 204800, "sigma": 0.6, "min": 4096, "max": 1048576}
    )
    assert dist == GALLERY
    assert "median 204800" in dist.describe()


@pytest.mark.parametrize(
    "raw",
    [
        {"distribution": "normal", "min": 1, "max": 2},
        {"distribution": "lognormal", "min": 1, "max": 2},
        {"distribution": "lognormal", "median": 10, "sigma": 0.5, "min": 20, "max": 30},
        {"distribution": "uniform", "min": 5, "max": 4},
        {"distribution": "uniform", "min": 1.5, "max": 4},
        {"distribution": "uniform", "min": 1, "max": 4, "mean": 2},
    ],
)
def test_invalid_distributions_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SizeDistribution.from_mapping(raw)


def test_synthetic_asset_reads_are_consistent_at_any_offset() -> None:
    size = 3 * MIB + 17
    whole = SyntheticAsset.open(size, random.Random(3)).read()
    assert len(whole) == size
    stream = SyntheticAsset.open(size, random.Random(3))
    for offset, length in [(0, 10), (MIB - 3, 7), (2 * MIB + 5, MIB), (size - 4, 100)]:
        stream.seek(offset)
        assert stream.read(length) == whole[offset : offset + length]


def test_synthetic_assets_differ_per_draw_and_feed_the_uploader() -> None:
    rng = random.Random(4)
    a = SyntheticAsset.open(MIB, rng).read()
    b = SyntheticAsset.open(MIB, rng).read()
    assert hashlib.sha256(a).digest() != hashlib.sha256(b).digest()
    source = open_source(SyntheticAsset.open(2 * MIB + 1, random.Random(5)))
    try:
        assert source.size == 2 * MIB + 1
        expected = SyntheticAsset.open(2 * MIB + 1, random.Random(5)).read()
        assert source.read(MIB, MIB) == expected[MIB : 2 * MIB]
        assert source.sha256() == hashlib.sha256(expected).hexdigest()
    finally:
        source.close()
