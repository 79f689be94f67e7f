#!/usr/bin/env bash
# Runs every libFuzzer harness built in BUILD/tests/fuzz (cmake --preset fuzz): first replays its
# seed corpus (tests/fuzz/corpus/NAME) once, then fuzzes it for SECONDS on one core. New inputs go
# to BUILD/fuzz-work/corpus/NAME (kept between runs; `make fuzz-merge` folds them into the tree),
# crashes to BUILD/fuzz-work/artifacts/. Prints one line per harness: executions, coverage, result.
# usage: tests/fuzz/run.sh [BUILD] [SECONDS]        (defaults: build-fuzz 60; 0 = replay only)
# Exit status 1 if any harness crashed, leaked, timed out or broke an invariant.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-fuzz}
seconds=${2:-60}
work=$build/fuzz-work
mkdir -p "$work/artifacts"

shopt -s nullglob
bins=("$build"/tests/fuzz/fuzz_*)
if [ ${#bins[@]} -eq 0 ]; then
  echo "run.sh: no harnesses in $build/tests/fuzz (cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 2
fi

failed=0
printf '%-10s %12s %8s %6s %s\n' harness executions seconds cov result
for bin in "${bins[@]}"; do
  [ -x "$bin" ] || continue
  name=${bin##*/fuzz_}
  seeds=$here/corpus/$name
  mkdir -p "$work/corpus/$name" "$seeds"
  log=$work/$name.log
  # 1. The corpus in the tree, once each: the regression inputs must pass.
  if ! "$bin" -runs=0 -artifact_prefix="$work/artifacts/$name-" "$seeds" >"$log" 2>&1; then
    printf '%-10s %12s %8s %6s %s\n' "$name" - - - "FAILED replaying $seeds"
    grep -E 'invariant failed|ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/    /'
    failed=1
    continue
  fi
  [ "$seconds" -gt 0 ] || { printf '%-10s %12s %8s %6s %s\n' "$name" - 0 - "corpus ok"; continue; }
  # 2. Fuzz for a while, starting from the tree's corpus and what earlier runs found.
  start=$(date +%s)
  "$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
         -artifact_prefix="$work/artifacts/$name-" "$work/corpus/$name" "$seeds" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ $rc -eq 0 ]; then
    printf '%-10s %12s %8s %6s %s\n' "$name" "${runs:-?}" "$took" "${cov:-?}" ok
  else
    printf '%-10s %12s %8s %6s %s\n' "$name" "${runs:-?}" "$took" "${cov:-?}" "FAILED (log $log)"
    grep -E 'invariant failed|ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/    /'
    artifact=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
    [ -n "$artifact" ] && echo "    reproduce: $bin $artifact"
    failed=1
  fi
done
exit $failed
