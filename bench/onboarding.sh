#!/usr/bin/env bash
# `scaffold onboard`, `doctor` and `graph`, timed side by side with hyperfine (medians and ratios).
#   bash bench/onboarding.sh    (needs .venv from `make install`, hyperfine and graphviz)
# Results go to build/bench/onboard-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
OUT="$PWD/build/bench"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
RUNS="${BENCH_RUNS:-10}"
(cd "$WORK" && "$BIN/scaffold" init shop --defaults >/dev/null)

# 1. The whole walkthrough without a terminal (doctor, text, a first service, wiring) against
#    `scaffold new backend` alone: what the walkthrough adds to creating the service.
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/onboard-walkthrough.json" \
  --prepare "rm -rf $WORK/eco && cp -a $WORK/shop $WORK/eco" \
  --command-name "scaffold onboard --defaults" "$BIN/scaffold onboard --defaults -C $WORK/eco" \
  --command-name "scaffold new backend" "$BIN/scaffold new backend hello --defaults -C $WORK/eco"

# 2. doctor (every probe) and one onboarding step against `scaffold list` (start-up + reading ecosystem.yaml).
hyperfine --warmup 2 --runs "$((RUNS * 2))" --export-json "$OUT/onboard-doctor.json" -i \
  --command-name "scaffold list" "$BIN/scaffold list -C examples/shop" \
  --command-name "scaffold doctor" "$BIN/scaffold doctor -C examples/shop" \
  --command-name "scaffold onboard --step 2" "$BIN/scaffold onboard --step 2 -C $WORK/shop"

# 3. graph in each format.
hyperfine --warmup 2 --runs "$((RUNS * 2))" --export-json "$OUT/onboard-graph.json" \
  --command-name "graph mermaid" "$BIN/scaffold graph -C examples/shop" \
  --command-name "graph dot" "$BIN/scaffold graph --format dot -C examples/shop" \
  --command-name "graph svg" "$BIN/scaffold graph --format svg -C examples/shop"
