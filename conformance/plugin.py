"""The pytest plugin: options, markers, the `target` fixture, per-test principals, reports, snapshots.

Loaded by `conformance/conftest.py`, so `pytest conformance/ [options]` is the whole interface.

Markers (registered here, checked at collection so a test cannot silently drop out of the matrix):

* `req("22.2", ...)` and `task("1.4", ...)`: at least one each, known numbers only (`catalog.py`);
* exactly one capability marker: `portable` (runs on any target) or `needs("clock", ...)`;
* `method("put_chunk", ...)`: contract methods the test calls; a target whose interface lacks one
  reports the test as "not implemented by target". The client makes the same decision at call time
  for methods not listed, so a forgotten marker cannot turn a missing method into a suite error;
* `snapshot_skip(*paths, reason=...)`: reply paths that may differ between targets (parity debt);
  no paths means the test's replies are not compared at all (their order depends on threads).

A capability or method check happens in `pytest_runtest_setup`, before any fixture runs, so a
skipped persistence test never seeds state it cannot upgrade.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import sys
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.ic import generate_ed25519

from .calls import SuiteClient
from .catalog import CAPABILITIES, MISSING_CAPABILITY, NOT_IMPLEMENTED, REQUIREMENTS, TASKS, contract_methods
from .report import RunResults, TestResult, classify_skip, write_reports
from .snapshot import Recorder, SnapshotStore, diff, filter_diffs
from .target import Target, TargetError, build_config, load_profile, start_target

__all__ = [
    "alice",
    "anon",
    "blob",
    "bob",
    "make_caller",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "recorder",
    "target",
]

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SNAPSHOT_DIR = PACKAGE_DIR / "snapshots"
MARKERS = (
    "req(*numbers): contract requirement numbers this test checks (conformance/catalog.py)",
    "task(*numbers): seed plan task numbers this test checks",
    "portable: needs nothing beyond the canister interface; runs on every target",
    "needs(*capabilities): target capabilities the test needs (clock, upgrade, inspect, scale)",
    "method(*names): contract methods the test calls; missing on the target -> not implemented",
    "snapshot_skip(*paths, reason=''): reply paths exempt from parity comparison; none = all",
)

SESSION_KEY = pytest.StashKey["ConformanceSession"]()
RECORDER_KEY = pytest.StashKey[Recorder]()
CALL_REPORT_KEY = pytest.StashKey[pytest.TestReport]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "artifact canister conformance suite")
    group.addoption("--target", default=None, help="emulator (default: start one) or replica")
    group.addoption("--target-name", dest="target_name", default=None, help="label in reports")
    group.addoption("--url", default=None, help="replica: the IC HTTP endpoint, e.g. http://127.0.0.1:4943")
    group.addoption("--canister-id", dest="canister_id", default=None, help="the artifact canister's id")
    group.addoption("--identity", default=None, help="PEM identity (dfx identity export NAME)")
    group.addoption("--did", default=None, help="the target's .did (default: its candid:service metadata)")
    group.addoption(
        "--upgrade-command",
        dest="upgrade_command",
        default=None,
        help="shell line that upgrades the canister",
    )
    group.addoption(
        "--admin-url", dest="admin_url", default=None, help="an emulator admin API for the target"
    )
    group.addoption("--admin-token", dest="admin_token", default=None, help="bearer token of the admin API")
    group.addoption("--root-key", dest="root_key", default=None, help="pinned DER root key (hex)")
    group.addoption("--profile", default=None, help="target profile (JSON or TOML) with the same keys")
    group.addoption("--report-dir", dest="report_dir", default=None, help="write matrix, results, JUnit here")
    group.addoption("--snapshot-update", action="store_true", help="record replies into the snapshot files")
    group.addoption("--snapshot-compare", action="store_true", help="diff replies against the snapshots")
    group.addoption("--snapshot-strict", action="store_true", help="with --snapshot-compare: fail on a diff")
    group.addoption("--snapshot-dir", dest="snapshot_dir", default=None, help="snapshot files directory")
    group.addoption(
        "--emulator-canister",
        dest="emulator_canister",
        default=None,
        help="emulator target: canister kind or module:Class to host (default artifact)",
    )
    group.addoption(
        "--emulator-arg", dest="emulator_args", action="append", default=[], help="extra emulator argument"
    )
    group.addoption(
        "--emulator-limits", dest="emulator_limits", default=None, help="emulator target: limits JSON file"
    )
    group.addoption(
        "--scale-memories",
        dest="scale_memories",
        type=int,
        default=None,
        help="store N memories to check that presence cost does not grow (enables 'scale')",
    )


class ConformanceSession:
    """State of one suite run: the target, per-test results, snapshots."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.target: Target | None = None
        self.results: dict[str, TestResult] = {}
        self.started = time.monotonic()
        self.started_at = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        report_dir = config.getoption("report_dir")
        self.report_dir = Path(report_dir) if report_dir else None
        self.snapshot_update = bool(config.getoption("snapshot_update"))
        self.snapshot_compare = bool(config.getoption("snapshot_compare"))
        self.snapshot_strict = bool(config.getoption("snapshot_strict"))
        snapshot_dir = config.getoption("snapshot_dir")
        self.snapshots = SnapshotStore(Path(snapshot_dir) if snapshot_dir else DEFAULT_SNAPSHOT_DIR)
        self.collected: dict[str, set[str]] = {}
        self.written: list[Path] = []

    def start(self) -> None:
        options = {
            key: self.config.getoption(key)
            for key in (
                "target",
                "url",
                "canister_id",
                "identity",
                "did",
                "upgrade_command",
                "admin_url",
                "admin_token",
                "root_key",
                "emulator_canister",
                "emulator_args",
                "emulator_limits",
                "scale_memories",
            )
        }
        options["name"] = self.config.getoption("target_name")
        profile_path = self.config.getoption("profile")
        try:
            profile = load_profile(Path(profile_path)) if profile_path else {}
            self.target = start_target(build_config(options, profile))
        except TargetError as exc:
            raise pytest.UsageError(f"conformance target: {exc}") from exc

    # -- snapshots ---------------------------------------------------------------------------------

    def after_test(self, item: pytest.Item, recorder: Recorder) -> None:
        result = self.results.get(item.nodeid)
        if result is None or self.target is None:
            return
        result.replies = recorder.replies()
        skip_marker = item.get_closest_marker("snapshot_skip")
        skip_paths = None if skip_marker is None else [str(p) for p in skip_marker.args]
        result.snapshot_skip = skip_paths
        call = item.stash.get(CALL_REPORT_KEY, None)
        if call is None or not call.passed:
            return
        module, name = _snapshot_key(item)
        if skip_marker is not None and not skip_paths:
            result.snapshot = {"status": "skipped", "reason": str(skip_marker.kwargs.get("reason", ""))}
            return
        if self.snapshot_update:
            self.snapshots.put(module, name, result.replies, self.target.name)
            result.snapshot = {"status": "recorded"}
        elif self.snapshot_compare:
            recorded = self.snapshots.get(module, name)
            if recorded is None:
                result.snapshot = {"status": "missing"}
                return
            diffs = filter_diffs(diff(recorded.get("replies", []), result.replies), skip_paths or [])
            if not diffs:
                result.snapshot = {"status": "match"}
                return
            result.snapshot = {
                "status": "differs",
                "recorded-target": recorded.get("recorded-target"),
                "diffs": diffs,
            }
            if self.snapshot_strict:
                lines = [
                    f"  {d['path']}: snapshot {d['expected']!r}, here {d['actual']!r}" for d in diffs[:20]
                ]
                pytest.fail("replies differ from the snapshot:\n" + "\n".join(lines), pytrace=False)

    # -- results -----------------------------------------------------------------------------------

    def run_results(self) -> RunResults:
        target = self.target.describe() if self.target is not None else {"name": "unstarted"}
        return RunResults(
            target=target,
            results=[r for r in self.results.values() if r.outcome],
            started=self.started_at,
            duration=time.monotonic() - self.started,
            argv=list(sys.argv[1:]),
        )


def _session(config: pytest.Config) -> ConformanceSession:
    return config.stash[SESSION_KEY]


def _snapshot_key(item: pytest.Item) -> tuple[str, str]:
    module = item.path.stem
    return module, item.nodeid.split("::", 1)[1] if "::" in item.nodeid else item.nodeid


def _is_conformance(item: pytest.Item) -> bool:
    return PACKAGE_DIR in item.path.resolve().parents


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    session = ConformanceSession(config)
    config.stash[SESSION_KEY] = session
    if session.report_dir is not None and not getattr(config.option, "xmlpath", None):
        # pytest's own JUnit writer, pointed at the report directory (its plugin reads this later).
        config.option.xmlpath = str(session.report_dir / "junit.xml")


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if config.getoption("collectonly") or config.getoption("help", False):
        return
    _session(config).start()


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = _session(config).target
    if target is None:
        return [f"conformance target: {config.getoption('target') or 'emulator'} (not started)"]
    return target.header_lines()


def _marker_problems(item: pytest.Item) -> list[str]:
    problems = []
    reqs = [str(a) for m in item.iter_markers("req") for a in m.args]
    tasks = [str(a) for m in item.iter_markers("task") for a in m.args]
    if not reqs:
        problems.append("no req(...) marker")
    problems += [f"unknown requirement {r!r}" for r in reqs if r not in REQUIREMENTS]
    if not tasks:
        problems.append("no task(...) marker")
    problems += [f"unknown task {t!r}" for t in tasks if t not in TASKS]
    capability_markers = list(item.iter_markers("portable")) + list(item.iter_markers("needs"))
    if len(capability_markers) != 1:
        problems.append(f"needs exactly one of portable / needs(...), has {len(capability_markers)}")
    for m in item.iter_markers("needs"):
        if not m.args:
            problems.append("needs() without a capability")
        problems += [f"unknown capability {c!r}" for c in m.args if c not in CAPABILITIES]
    known = set(contract_methods())
    for m in item.iter_markers("method"):
        problems += [f"unknown contract method {n!r}" for n in m.args if n not in known]
    return problems


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = _session(config)
    bad = []
    for item in items:
        if not _is_conformance(item):
            continue
        problems = _marker_problems(item)
        if problems:
            bad.append(f"  {item.nodeid}: {'; '.join(problems)}")
            continue
        module, name = _snapshot_key(item)
        state.collected.setdefault(module, set()).add(name)
        reqs = sorted({str(a) for m in item.iter_markers("req") for a in m.args})
        tasks = sorted({str(a) for m in item.iter_markers("task") for a in m.args})
        needs = sorted({str(a) for m in item.iter_markers("needs") for a in m.args})
        item.user_properties += [("requirement", r) for r in reqs] + [("task", t) for t in tasks]
        doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
        rule = " ".join(doc.strip().split("\n\n")[0].split())
        state.results[item.nodeid] = TestResult(item.nodeid, rule=rule, reqs=reqs, tasks=tasks, needs=needs)
    if bad:
        raise pytest.UsageError("conformance tests with invalid markers:\n" + "\n".join(bad))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_conformance(item):
        return
    target = _session(item.config).target
    if target is None:
        return
    missing = sorted({str(c) for m in item.iter_markers("needs") for c in m.args} - target.capabilities)
    if missing:
        pytest.skip(f"{MISSING_CAPABILITY}{', '.join(missing)} ({target.name})")
    absent = sorted({str(n) for m in item.iter_markers("method") for n in m.args} - target.methods)
    if absent:
        pytest.skip(f"{NOT_IMPLEMENTED}{', '.join(absent)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    result = _session(item.config).results.get(item.nodeid)
    if result is None:
        return report
    if report.when == "call":
        item.stash[CALL_REPORT_KEY] = report
    result.duration += report.duration
    if hasattr(report, "wasxfail"):
        result.outcome = "xfailed" if report.skipped else "xpassed"
        result.reason = str(report.wasxfail)
    elif report.skipped:
        longrepr = report.longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        result.reason = reason.removeprefix("Skipped: ")
        result.outcome = classify_skip(result.reason)
    elif report.failed:
        result.message = _failure_text(report)
        if report.when == "call":
            result.outcome = "failed"
        elif result.outcome != "failed":
            result.outcome = "error"
    elif report.when == "call":
        result.outcome = "passed"
    return report


def _failure_text(report: pytest.TestReport) -> str:
    """The failing assertion (pytest's rewritten explanation), not the whole traceback."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    text = str(report.longrepr)
    return "\n".join(text.strip().splitlines()[-15:])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _session(session.config)
    try:
        if state.snapshot_update:
            for module, names in state.collected.items():
                state.snapshots.prune(module, names)
            state.written += state.snapshots.save()
        if state.report_dir is not None and state.target is not None:
            state.written += write_reports([state.run_results()], state.report_dir)
    finally:
        if state.target is not None:
            keep = state.report_dir / "emulator.log" if state.report_dir is not None else None
            state.target.close(keep_log=keep)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _session(config)
    if state.target is None:
        return
    run = state.run_results()
    counts = run.counts()
    terminalreporter.write_sep("-", f"conformance: {state.target.name}")
    terminalreporter.write_line(
        f"{counts['passed']} passed, {counts['failed'] + counts['error']} missed, "
        f"{counts['not-implemented']} not implemented by target, "
        f"{counts['skipped-capability']} skipped for a missing capability, {counts['skipped']} other skips"
    )
    differs = [r for r in run.results if r.snapshot.get("status") == "differs"]
    if state.snapshot_compare:
        missing = sum(1 for r in run.results if r.snapshot.get("status") == "missing")
        terminalreporter.write_line(
            f"parity: {len(differs)} tests with replies differing from the snapshots, {missing} without one"
        )
    for path in state.written:
        terminalreporter.write_line(f"wrote {path}")


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The target under test (started once per session by the plugin)."""
    found = _session(request.config).target
    if found is None:
        pytest.fail("the conformance target was not started")
    return found


@pytest.fixture(autouse=True)
def recorder(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Every reply this test sees, for the parity snapshots and the results file."""
    rec = Recorder()
    request.node.stash[RECORDER_KEY] = rec
    yield rec
    _session(request.config).after_test(request.node, rec)


@pytest.fixture
def make_caller(target: Target, recorder: Recorder) -> Callable[[str], SuiteClient]:
    """Fresh Ed25519 principals: each test starts with callers that own nothing (no reset needed)."""

    def make(label: str) -> SuiteClient:
        return target.client(label, generate_ed25519(), recorder)

    return make


@pytest.fixture
def alice(make_caller: Callable[[str], SuiteClient]) -> SuiteClient:
    return make_caller("alice")


@pytest.fixture
def bob(make_caller: Callable[[str], SuiteClient]) -> SuiteClient:
    return make_caller("bob")


@pytest.fixture
def anon(target: Target, recorder: Recorder) -> SuiteClient:
    """The anonymous principal (2vxsx-fae): may query, may not write."""
    return target.client("anonymous", None, recorder)


@pytest.fixture
def blob(request: pytest.FixtureRequest) -> Callable[..., bytes]:
    """Deterministic test data: the same test asks for the same bytes on every run and target, so
    hashes in replies are comparable across runs."""
    counter = iter(range(1_000_000))

    def make(size: int, label: str = "") -> bytes:
        seed = hashlib.sha256(f"{request.node.nodeid}|{label}|{next(counter)}".encode()).digest()
        out = bytearray()
        block = 0
        while len(out) < size:
            out += hashlib.sha256(seed + block.to_bytes(8, "big")).digest()
            block += 1
        return bytes(out[:size])

    return make
