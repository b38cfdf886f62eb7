#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, builds, runs every test.
# Usage: scripts/test.sh [extra `swift test` arguments, e.g. --filter BencodeTests]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

if [[ ! -d ../shared/conformance ]]; then
    if [[ "${SWTORRENT_REQUIRE_ALL:-}" == 1 ]]; then
        echo "test.sh: ../shared/conformance is absent and SWTORRENT_REQUIRE_ALL=1: the conformance tests will fail." >&2
    else
        echo "test.sh: ../shared/conformance is absent: the conformance tests will be reported as not run." >&2
    fi
fi

export SWTORRENT_STRICT=1   # warnings are errors in our own targets
swift build --build-tests
# One test at a time: run in parallel on this project's 2-core machines, the in-process transfers and the helpers'
# blocking waits starved Swift's cooperative pool (2 threads) and ran unrelated tests past their time limits.
# The log is kept (and named at the end) so that the failures can be printed again last: a CI log is often read from
# its tail only, and swift-testing reports a failed expectation where it happens, far above its summary.
log=$(mktemp "${TMPDIR:-/tmp}/swtorrent-test-$(date -u +%Y%m%dT%H%M%S)-XXXXXX.log")
status=0
swift test --skip-build --no-parallel "$@" 2>&1 | tee "$log" || status=$?
if ((status != 0)); then
    echo
    echo "test.sh: the tests failed (exit $status); the whole log is $log. What failed:"
    grep -E '^✘|recorded an issue|Fatal error|unexpected signal' "$log" | grep -v '^✘ Test run with' |
        cut -c1-300 | tail -n 60 || true
    grep -E '^✘ Test run with' "$log" || true
else
    rm -f "$log"
fi
exit "$status"
