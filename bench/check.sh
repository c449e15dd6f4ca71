#!/usr/bin/env bash
# `scaffold check` on an ecosystem of 20 services against the raw validators it runs (hyperfine).
#   bash bench/check.sh         (needs .venv from `make install`, hyperfine, and checkov for the second part)
# Goal: without checkov, the median of `scaffold check` <= 1.3 x (sum of the raw validator times / CPUs).
# Results: build/bench/check-*.json; the summary is printed. BENCH_SERVICES (20) and BENCH_RUNS (5) adjust it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
OUT="$PWD/build/bench"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
SERVICES="${BENCH_SERVICES:-20}"
RUNS="${BENCH_RUNS:-5}"
export CHECKOV="${CHECKOV:-$PWD/.venv-checkov/bin/checkov}"

echo "making an ecosystem of $SERVICES services..."
(cd "$WORK" && "$BIN/scaffold" init shop --defaults >/dev/null)
for i in $(seq 1 "$SERVICES"); do
  "$BIN/scaffold" new backend "svc$i" --defaults -C "$WORK/shop" >/dev/null
done
"$BIN/scaffold" check --no-checkov -C "$WORK/shop" >/dev/null  # it passes, and caches are warm

echo "raw validators, one at a time:"
"$BIN/python" bench/raw_validators.py "$WORK/shop" "$OUT/check-raw.json" --checkov 2>/dev/null

hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/check.json" \
  --command-name "scaffold check --no-checkov" "$BIN/scaffold check --no-checkov -C $WORK/shop" \
  --command-name "scaffold check --no-checkov --jobs 1" "$BIN/scaffold check --no-checkov --jobs 1 -C $WORK/shop"
hyperfine --runs "$(( RUNS > 3 ? 3 : RUNS ))" --export-json "$OUT/check-checkov.json" \
  --command-name "scaffold check" "$BIN/scaffold check -C $WORK/shop"

"$BIN/python" - "$OUT" <<'PY'
import json, os, sys
from pathlib import Path
out = Path(sys.argv[1])
raw = json.loads((out / "check-raw.json").read_text())
runs = {r["command"]: r["median"] for f in ("check.json", "check-checkov.json") for r in json.loads((out / f).read_text())["results"]}
cpus = raw["cpus"]
ideal = raw["sum_without_checkov"] / cpus
ours = runs["scaffold check --no-checkov"]
print(f"load average now: {os.getloadavg()[0]:.1f} on {cpus} CPUs")
print(f"raw validators without checkov: {raw['sum_without_checkov']:.2f} s in all, / {cpus} CPUs = {ideal:.2f} s")
strict = raw["strict_sum_without_checkov"] / cpus
print(f"scaffold check --no-checkov: median {ours:.2f} s -> {ours / ideal:.2f}x (goal <= 1.3x); "
      f"--jobs 1: {runs['scaffold check --no-checkov --jobs 1']:.2f} s")
print(f"stricter, Kubernetes schemas loaded once in the raw sum too: {raw['strict_sum_without_checkov']:.2f} s "
      f"/ {cpus} = {strict:.2f} s -> {ours / strict:.2f}x")
ideal_all = raw["sum_with_checkov"] / cpus
mine = runs["scaffold check"]
print(f"with checkov: raw {raw['sum_with_checkov']:.2f} s in all, / {cpus} = {ideal_all:.2f} s; "
      f"scaffold check: median {mine:.2f} s -> {mine / ideal_all:.2f}x")
PY
