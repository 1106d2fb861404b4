"""The suite's own sensitivity: against a canister with one rule broken, named tests must fail.

Each case hosts a variant from `faulty_canisters.py` in the suite's own emulator target and runs
only the test files that concern it (the full suite runs once, in `scripts/conformance.sh`). A case
passes when every test it names failed *with an assertion message* (a test that errors in set-up
proves nothing), so removing the check that catches a fault makes this test fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance_meta.suite import FAULTY, run_suite

pytestmark = pytest.mark.slow

CASES: dict[str, tuple[list[str], set[str]]] = {
    "NoHashVerification": (
        ["conformance/test_upload_commit.py", "conformance/test_presence.py", "-k", "corrupt"],
        {
            "conformance/test_upload_commit.py::test_corrupted_bytes_fail_the_upload",
            "conformance/test_presence.py::test_corrupted_upload_never_becomes_present",
        },
    ),
    "NoRateLimit": (
        ["conformance/test_rate_limits.py"],
        {
            "conformance/test_rate_limits.py::test_active_sessions_are_capped",
            "conformance/test_rate_limits.py::test_concurrent_begins_never_exceed_the_limit[0]",
            "conformance/test_rate_limits.py::test_the_limit_is_per_caller",
        },
    ),
    "PresenceBySubstring": (
        ["conformance/test_presence.py", "-k", "non_canonical or exact"],
        {
            f"conformance/test_presence.py::test_presence_of_non_canonical_ids_is_refused[{fragment}]"
            for fragment in ("first 8 digits", "without the last digit", "uppercase")
        },
    ),
    "CommitNotIdempotent": (
        ["conformance/test_upload_commit.py", "-k", "retry or always_success"],
        {
            "conformance/test_upload_commit.py::test_commit_retry_returns_the_same_success",
            "conformance/test_upload_commit.py::test_cancel_is_always_success_for_own_ids",
        },
    ),
    "StateLostOnUpgrade": (
        ["conformance/test_persistence.py"],
        {
            "conformance/test_persistence.py::test_galleries_survive",
            "conformance/test_persistence.py::test_metadata_presence_and_idempotency_keys_survive",
            "conformance/test_persistence.py::test_committed_asset_survives",
            "conformance/test_persistence.py::test_upload_in_flight_resumes",
            "conformance/test_persistence.py::test_rate_limit_accounting_survives",
        },
    ),
    "KeepsOnlyPresence": (
        ["conformance/test_upload_commit.py"],
        {
            "conformance/test_upload_commit.py::test_commit_answers_the_hash_and_size_of_what_was_sent",
            "conformance/test_upload_commit.py::test_the_client_uploader_stores_and_verifies",
        },
    ),
    "PaddedSessionIds": (
        ["conformance/test_upload_begin.py", "-k", "unguessable"],
        {"conformance/test_upload_begin.py::test_session_ids_are_unguessable"},
    ),
    "SessionIdsFromArguments": (
        ["conformance/test_upload_begin.py", "-k", "unguessable"],
        {"conformance/test_upload_begin.py::test_session_ids_are_unguessable"},
    ),
    "ForeignSessionWritable": (
        ["conformance/test_ownership.py", "-k", "session"],
        {"conformance/test_ownership.py::test_another_principals_session_is_not_writable"},
    ),
}


@pytest.mark.parametrize("variant", sorted(CASES))
def test_faulty_canister_is_caught(variant: str, tmp_path: Path) -> None:
    paths, expected = CASES[variant]
    run = run_suite([*paths, "--emulator-canister", f"{FAULTY}:{variant}"], tmp_path)
    assert run.results, f"the suite wrote no results:\n{run.output[-3000:]}"
    assert run.returncode == 1, f"pytest exit {run.returncode}:\n{run.output[-3000:]}"
    failed = run.by_outcome("failed")
    missed = expected - failed
    assert not missed, f"{variant} was not caught by {sorted(missed)}; outcomes: {run.outcomes()}"
    for nodeid in expected:
        assert run.result(nodeid)["message"], f"{nodeid} failed without an assertion message"
    assert not run.by_outcome("error"), f"set-up errors are not catches: {run.by_outcome('error')}"


def test_missing_methods_are_not_implemented_not_failures(tmp_path: Path) -> None:
    """The deployed interface (no progress API): those tests are "not implemented by target",
    counted apart, and the run passes."""
    run = run_suite(
        [
            "conformance/test_progress.py",
            "conformance/test_errors.py",
            "conformance/test_interface.py",
            "--emulator-canister",
            f"{FAULTY}:WithoutProgressApi",
        ],
        tmp_path,
    )
    assert run.returncode == 0, run.output[-3000:]
    not_implemented = run.by_outcome("not-implemented")
    assert "conformance/test_progress.py::test_progress_of_a_new_session" in not_implemented
    assert "conformance/test_errors.py::test_progress_envelopes" in not_implemented
    assert (
        "conformance/test_interface.py::test_method_has_contract_signature[get_upload_progress]"
        in not_implemented
    )
    others = {n for n in not_implemented if not n.startswith("conformance/test_progress.py")}
    assert others == {
        "conformance/test_errors.py::test_progress_envelopes",
        "conformance/test_interface.py::test_method_has_contract_signature[get_upload_progress]",
        "conformance/test_interface.py::test_method_has_contract_signature[get_user_upload_sessions]",
    }
    reason = run.result("conformance/test_progress.py::test_progress_of_a_new_session")["reason"]
    assert reason.startswith("not implemented by target: get_upload_progress"), reason
    assert run.results["counts"]["not-implemented"] == len(not_implemented)
    assert run.results["counts"]["failed"] == 0
    matrix = (tmp_path / "conformance-matrix.md").read_text()
    assert "not implemented" in matrix
