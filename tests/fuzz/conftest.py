"""Hypothesis profiles for the fuzz suites: a small fixed budget in CI, long random runs on demand.

`HYPOTHESIS_PROFILE` selects one (default `ci`): `ci` runs a fixed, derandomized set of examples so a
run takes seconds and fails the same way every time; `long` is what `scripts/fuzz.sh` uses, random
and large, keeping any failure it finds in the example database so the next run replays it first.
Suites that pass their own `settings(...)` keep those values; the profile fills in the rest.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
