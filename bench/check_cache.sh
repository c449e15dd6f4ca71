#!/usr/bin/env bash
# `scaffold check` with an empty cache, again with nothing changed, and after one service changed,
# side by side with hyperfine, on ecosystems of 60 and 200 services (BENCH_SIZES), without and with
# checkov (BENCH_VARIANTS="no-checkov checkov"). Goal: the second check at most 0.1x the first.
#   bash bench/check_cache.sh      (needs .venv, hyperfine, checkov for the second part; BENCH_RUNS=3)
# The ecosystems come from bench/ecosystem.py. The cache is a directory of this run's own
# (SCAFFOLD_CACHE_DIR); "empty" removes its check results only (ecosystem.yaml stays remembered, as
# after the `scaffold new` that made the last service). "One service changed" appends a comment to
# svc001's service template before each run, so its chart and checkov checks and the umbrella's run
# again; the list of what ran again is printed from a last run's --json.
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
RUNS="${BENCH_RUNS:-3}"
export CHECKOV="${CHECKOV:-$PWD/.venv-checkov/bin/checkov}"
export SCAFFOLD_CACHE_DIR="$WORK/cache"

for size in ${BENCH_SIZES:-60 200}; do
  root="$("$BIN/python" -m bench.ecosystem "$size" "$WORK/eco$size")"
  touched="$root/services/svc001/chart/templates/service.yaml"
  for variant in ${BENCH_VARIANTS:-no-checkov checkov}; do
    flag=$([ "$variant" = no-checkov ] && echo --no-checkov || true)
    check="$BIN/scaffold check $flag -C $root"
    name="check $size $variant"
    hyperfine --runs "$RUNS" --export-json "$OUT/check-cache-$size-$variant.json" \
      --prepare "rm -rf $SCAFFOLD_CACHE_DIR/check" --command-name "$name, empty cache" "$check" \
      --prepare "true" --command-name "$name, nothing changed" "$check" \
      --prepare "echo '# changed' >> $touched" --command-name "$name, one service changed" "$check"
    "$BIN/python" -m bench.summary "$OUT/check-cache-$size-$variant.json" \
      --ratio "$name, nothing changed" "$name, empty cache" 0.1
    echo "# changed" >> "$touched"
    $check --json | "$BIN/python" -c '
import json, sys
report = json.load(sys.stdin)
again = sorted(r["subject"] + " " + r["check"] for r in report["runs"] if not r["cached"] and r["status"] != "skipped")
print("after one service changed, ran again:", ", ".join(again) + "; from the cache:", report["cached"])'
  done
done
