#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) and runs every test: a debug build (with the lint,
# scripts/lint.sh, as the ctest tests lint.format and lint.tidy), then an ASan+UBSan build with
# warnings as errors. The last lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for preset in dev ci; do
    echo "== preset $preset: configure and build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
done
status=0
for preset in dev ci; do
    echo "== preset $preset: tests"
    ctest --preset "$preset" || status=$?
done
exit $status
