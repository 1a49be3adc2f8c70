#!/usr/bin/env bash
# What `npm test` runs: system packages, npm ci, build, type-check and ava (TAP), ending in one "N passed, N failed" line.
# Extra arguments go to ava: `npm test -- test/x.test.ts`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log=${SLIMCORE_TEST_LOG:-.cache/test-results/ava.tap}
mkdir -p "$(dirname "$log")"
passed=0
failed=0
failures=()
fail() { failed=$((failed + 1)); failures+=("$1"); echo "not ok - $1" >&2; }

bash scripts/apt-deps.sh || { echo "scripts/apt-deps.sh failed: the tests need those packages" >&2; exit 1; }

# npm writes node_modules/.package-lock.json on every install; older than the lock file means a stale install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund || { echo "npm ci failed" >&2; exit 1; }
fi

# npm ci builds the mmap addon; a checkout whose node_modules was already fresh may not have it yet.
[[ -f native/build/Release/slimcore_mmap.node ]] || sh scripts/build-native.sh

# The CLI tests run dist/bin/slim-core.js (the bundle). A failed build is counted so it cannot hide in the log; the tests still run.
npm run --silent build || fail "build (npm run build)"

if npx tsc -p tsconfig.check.json --noEmit; then
  passed=$((passed + 1))
else
  fail "typecheck (tsc -p tsconfig.check.json --noEmit)"
fi

# ava 7 swallows its own inactivity timeout when it fires inside a test's t.timeout() window, and never re-arms it:
# one hung test then holds the suite forever. So no test may call t.timeout(), and a hung child is killed by the
# helpers (test/helpers/bounded-child.ts).
if grep -n 't\.timeout(' test/*.ts test/helpers/*.ts; then
  fail "a test calls t.timeout() (see scripts/test.sh)"
fi

# The last guard, well inside CI's limit: SIGINT to ava and its workers ends the run, and what still ran counts as failed
# (ava names no test then; its own 10m timeout, in package.json, is what names one).
suite_limit=${SLIMCORE_SUITE_TIMEOUT:-60m}
timeout -s INT -k 2m "$suite_limit" npx ava --tap "$@" < /dev/null | tee "$log"
ava_status=${PIPESTATUS[0]}
suite_timed_out=false
if [[ $ava_status -eq 124 || $ava_status -eq 137 ]]; then
  suite_timed_out=true
  fail "ava did not finish within $suite_limit (stopped by SIGINT)"
fi

# A skipped or todo test counts as failed: the house rule is no skipped tests.
ava_passed=$(grep -E '^ok [0-9]+' "$log" | grep -cvE '#[[:space:]]*(SKIP|TODO)' || true)
ava_failed=$(grep -cE '^not ok [0-9]+|^ok [0-9]+.*#[[:space:]]*(SKIP|TODO)' "$log" || true)
passed=$((passed + ava_passed))
failed=$((failed + ava_failed))
while IFS= read -r line; do failures+=("${line}"); done < <(grep -E '^not ok [0-9]+|^ok [0-9]+.*#[[:space:]]*(SKIP|TODO)' "$log" || true)

if [[ $((ava_passed + ava_failed)) -eq 0 ]]; then
  fail "no ava test ran (arguments: ${*:-none})"
elif [[ $ava_status -ne 0 && $ava_failed -eq 0 && $suite_timed_out == false ]]; then
  fail "ava exited with status $ava_status without a failed test in $log"
fi

if [[ $failed -gt 0 ]]; then
  echo >&2
  echo "Failed:" >&2
  printf '  %s\n' "${failures[@]}" >&2
fi
echo "TAP log: $log" >&2
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
