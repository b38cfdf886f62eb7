#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, builds, runs every test.
# Usage: scripts/test.sh [extra `swift test` arguments, e.g. --filter BencodeTests]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

if [[ ! -d ../shared/conformance ]]; then
    echo "test.sh: ../shared/conformance is absent: the conformance tests will say so and not run." >&2
fi

export SWTORRENT_STRICT=1   # warnings are errors in our own targets
swift build --build-tests
swift test --skip-build "$@"
