#!/usr/bin/env bash
# Long fuzzing runs of the property suites in tests/fuzz (CI runs them with a small fixed budget).
#
#   scripts/fuzz.sh              10 minutes
#   scripts/fuzz.sh 60           an hour
#   scripts/fuzz.sh 5 tests/fuzz/test_fuzz_candid.py    5 minutes of one suite (extra args go to pytest)
#
# Runs pass after pass with the Hypothesis profile `long` (random examples, FUZZ_EXAMPLES per test and
# pass, default 2000) until the time is up. A failure stops the run with pytest's report; Hypothesis
# keeps the failing example in .hypothesis/ and replays it first next time. Suites that pin their own
# settings (the admin JSON fuzzer does) keep them: only the others get the long budget.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
shift || true
if [ "$#" -eq 0 ]; then
  set -- tests/fuzz
fi
if [ ! -x .venv/bin/python ]; then
  bash scripts/setup.sh
fi
export HYPOTHESIS_PROFILE=long
export FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-2000}"
deadline=$(( $(date +%s) + minutes * 60 ))
pass=0
while true; do
  left=$(( deadline - $(date +%s) ))
  if [ "$left" -le 0 ]; then
    break
  fi
  pass=$(( pass + 1 ))
  echo "fuzz pass $pass (${left}s left, $FUZZ_EXAMPLES examples per test)"
  status=0
  timeout --foreground "$left" .venv/bin/pytest -q -p no:cacheprovider "$@" || status=$?
  if [ "$status" -eq 124 ]; then
    break  # the time ran out in the middle of a pass: nothing failed
  fi
  if [ "$status" -ne 0 ]; then
    echo "fuzz: pass $pass failed (exit $status)" >&2
    exit "$status"
  fi
done
echo "fuzz: $pass passes in $minutes minutes, no failure"
