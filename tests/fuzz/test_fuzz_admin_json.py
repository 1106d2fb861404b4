"""Property: whatever JSON (or near-JSON) is posted to an admin route, the answer is never a 5xx.

Hypothesis generates arbitrary JSON values, objects built from each route's real field names with
values of every type, and raw bodies (NaN, Infinity, deep nesting, bytes); each goes over real HTTP to
a real emulator. A 4xx must carry a JSON `{"error": ...}` reason. The budget is a fixed number of
examples: the loaded Hypothesis profile's, or 60 derandomized ones when none is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.server.faults import RULE_FIELDS
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

JSON = {"Content-Type": "application/json"}
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
# A loaded profile (the suite's "ci" one, or a long-run one) decides the budget; without one, a small
# fixed, derandomized budget keeps this a few seconds.
FUZZ = (
    settings(deadline=None, derandomize=True, max_examples=60, suppress_health_check=_QUIET)
    if settings.get_current_profile_name() == "default"
    else settings(settings.default, deadline=None, suppress_health_check=_QUIET)
)

# (method, path, field names the route knows): real names make the type checks, not just the
# "unknown field" check, see hostile values.
ROUTES: list[tuple[str, str, tuple[str, ...]]] = [
    ("POST", f"/canisters/{EXAMPLE_ID}/upgrade", ("kind",)),
    ("POST", f"/canisters/{DEFAULT_ID}/clock/advance", ("seconds", "nanoseconds")),
    ("POST", f"/canisters/{EXAMPLE_ID}/clock/advance", ("seconds", "nanoseconds")),
    ("POST", f"/canisters/{DEFAULT_ID}/timers/run", ()),
    ("POST", f"/canisters/{EXAMPLE_ID}/reset", ()),
    ("POST", "/faults", tuple(sorted(RULE_FIELDS))),
    ("DELETE", "/faults", ()),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        ["reject", "latency", "http_status", "drop_reply", "call", "query", "any", "example-v2"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
raw_bodies = st.sampled_from(
    [
        b"NaN",
        b'{"seconds": NaN}',
        b'{"seconds": Infinity}',
        b'{"nanoseconds": -Infinity}',
        b'{"seconds": 1e308}',
        b'{"count": 1e400}',
        b"[" * 5000 + b"]" * 5000,
        b'{"a": ' * 3000 + b"1" + b"}" * 3000,
        b"\xff\xfe\x00",
        b'{"seconds": 1',
        b"",
        b"   ",
        b"null",
        b"true",
    ]
) | st.binary(max_size=64)


def _route_bodies(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    if not fields:
        return json_values
    known = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))
    return known | json_values


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("fuzz_admin") / "state",
        canisters=[f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"],
        extra_args=["--quiet"],
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def http(emu: EmulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.admin_url, headers=JSON, timeout=30) as client:
        yield client


def _check(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert isinstance(answer.json().get("error"), str)


@pytest.mark.parametrize(("method", "path", "fields"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_json_bodies_never_give_5xx(
    method: str, path: str, fields: tuple[str, ...], http: httpx.Client
) -> None:
    @FUZZ
    @given(body=_route_bodies(fields))
    def run(body: Any) -> None:
        _check(http.request(method, path, json=body))

    run()


@pytest.mark.parametrize(("method", "path", "fields"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_raw_bodies_never_give_5xx(
    method: str, path: str, fields: tuple[str, ...], http: httpx.Client
) -> None:
    @FUZZ
    @given(body=raw_bodies)
    def run(body: bytes) -> None:
        _check(http.request(method, path, content=body))

    run()


VIEWS = ["galleries", "memories", "sessions", "assets", "audit", "figures", "nope"]
PARAMS = ["owner", "after", "limit", "status", "principal", "memory_id", "gallery_id", "before"]
texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30) | st.sampled_from(
    ["-1", "0", "1" + "0" * 30, "²", "2vxsx-fae", "aaaaa-aa", "Active", " 5", "5 ", "0x10", "1e3"]
)


@FUZZ
@given(
    view=st.sampled_from(VIEWS),
    params=st.dictionaries(st.sampled_from(PARAMS) | texts, texts, max_size=4),
)
def test_inspect_query_params_never_give_5xx(view: str, params: dict[str, str], http: httpx.Client) -> None:
    _check(http.get(f"/canisters/{DEFAULT_ID}/inspect/{view}", params=params))


@FUZZ
@given(segment=texts.filter(lambda t: t not in ("", ".", "..")))
def test_path_params_never_give_5xx(segment: str, http: httpx.Client) -> None:
    quoted = quote(segment, safe="")
    for method, path in (
        ("GET", f"/canisters/{quoted}/clock"),
        ("DELETE", f"/faults/{quoted}"),
        ("GET", f"/canisters/{DEFAULT_ID}/assets/{quoted}/content"),
        ("GET", f"/canisters/{DEFAULT_ID}/inspect/{quoted}"),
    ):
        _check(http.request(method, path))


def test_emulator_logged_no_internal_error(emu: EmulatorProcess, http: httpx.Client) -> None:
    """Nothing above reached the middleware's last-resort 500 (it logs a traceback)."""
    http.delete("/faults")
    assert emu.log_path is not None
    assert "Traceback" not in emu.log_path.read_text()
    assert http.get("/health").json() == {"status": "ok"}
