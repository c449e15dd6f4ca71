#!/usr/bin/env bash
# `scaffold new` of the 1st service against the 500th (BENCH_SERVICES), side by side with hyperfine.
#   bash bench/new_scale.sh          (needs .venv from `make install` and hyperfine; BENCH_RUNS=10)
# Goal: new #500 at most 1.2x new #1. Both meta-projects come from bench/ecosystem.py (the second
# holds 499 rendered, wired and committed services); before each run `git reset --hard` and
# `git clean` put the meta-project back, so every run adds the same service to the same state.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
OUT="$PWD/build/bench"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
# Byte-compiled as a wheel install is (pip compiles it): with PYTHONDONTWRITEBYTECODE set, an editable
# checkout would otherwise compile every scaffold module again on every timed run.
"$BIN/python" -m compileall -q scaffold >/dev/null
RUNS="${BENCH_RUNS:-10}"
COUNT="${BENCH_SERVICES:-500}"

"$BIN/python" -m bench.ecosystem 0 "$WORK/first" >/dev/null
"$BIN/python" -m bench.ecosystem "$((COUNT - 1))" "$WORK/last" >/dev/null
restore() { echo "git -C $1 reset --quiet --hard && git -C $1 clean --quiet -fdx -e .scaffold/lock"; }

hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/new-scale.json" \
  --prepare "$(restore "$WORK/first/shop")" --command-name "new #1" \
  "$BIN/scaffold new backend extra --defaults -C $WORK/first/shop" \
  --prepare "$(restore "$WORK/last/shop")" --command-name "new #$COUNT" \
  "$BIN/scaffold new backend extra --defaults -C $WORK/last/shop"

"$BIN/python" -m bench.summary "$OUT/new-scale.json" --ratio "new #$COUNT" "new #1" 1.2
