#!/usr/bin/env bash
# Static analysis of src/ with warnings as errors: clang-tidy (checks in .clang-tidy, using the
# compile commands of a build dir) and cppcheck. usage: scripts/lint.sh [BUILD_DIR]  (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || { echo "lint.sh: configure $build first (cmake --preset release)" >&2; exit 2; }
echo "lint: clang-tidy"
clang-tidy --quiet -p "$build" $(find src -name '*.c' | sort)
echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
  --std=c11 -D_POSIX_C_SOURCE=200809L -Isrc src/
echo "lint: clang-format"
clang-format --dry-run --Werror $(find src -name '*.[ch]' | sort)
echo "lint: layers"
scripts/check-layers.sh src
echo "lint: ok"
