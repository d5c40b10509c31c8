#!/usr/bin/env bash
# Build everything (scripts/setup.sh) and run every test: unit tests, the
# system tests that boot Lamina on QEMU, and the harness's self-test.
#
#   scripts/test.sh [CTEST ARGS...]    e.g.  scripts/test.sh -L system
#                                            scripts/test.sh -R system.hello
# The exit status is ctest's.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${LAMINA_BUILD_DIR:-$REPO_DIR/build}"

"$REPO_DIR/scripts/setup.sh"
# Two jobs for this project's two-core machines; each system test books
# one processor (PROCESSORS 1), so at most two QEMUs run at once.
exec ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 "$@"
