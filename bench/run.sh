#!/usr/bin/env bash
# Benchmarks (never timed tests): medians and ratios measured side by side with hyperfine.
#   make bench            # or: bash bench/run.sh  (needs .venv from `make install` and hyperfine)
# Results go to build/bench/*.json and a summary is printed.
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
RUNS="${BENCH_RUNS:-15}"

# 1. start-up: `scaffold --help`
hyperfine --warmup 3 --runs "$((RUNS * 2))" --export-json "$OUT/help.json" \
  "$BIN/scaffold --help"

# 2. `scaffold new backend` (render + wire into a meta-project) against `copier copy` of the same
#    template from the same git source, each into a fresh directory.
(cd "$WORK" && "$BIN/scaffold" init shop --defaults >/dev/null)
TEMPLATE_REPO="$("$BIN/python" -c 'from scaffold.templates import builtin_repository; print(builtin_repository())')"
hyperfine --warmup 2 --runs "$RUNS" --export-json "$OUT/new.json" \
  --prepare "rm -rf $WORK/eco $WORK/copier-out && cp -a $WORK/shop $WORK/eco" \
  --command-name "scaffold new backend" \
  "$BIN/scaffold new backend orders --defaults -C $WORK/eco" \
  --command-name "copier copy" \
  "$BIN/copier copy --quiet --defaults --trust --vcs-ref v0.1.0 -d kind=backend -d name=orders -d ecosystem=shop -d port=8001 $TEMPLATE_REPO $WORK/copier-out"

"$BIN/python" bench/summary.py "$OUT"
