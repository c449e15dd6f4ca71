#!/usr/bin/env bash
# `scaffold update --all` on a fleet of 100 services (BENCH_SERVICES) against a sequential loop of
# `copier update` over the same services, side by side with hyperfine (goal: at most 0.05x the loop).
#   bash bench/update.sh          (needs .venv from `make install` and hyperfine; BENCH_RUNS=3 by default;
#                                  BENCH_ETA=1 also checks the progress bar's time-left estimates, bench/progress_truth.py)
# Both start from the same meta-project: the services made with the built-in templates 0.1.0 by
# this scaffold (bench/ecosystem.py: backends and workers, one frontend), committed, and a "newer
# scaffold" 0.2.0 (a copy of this one with a changed template, as tests/test_update_sources.py makes
# it). copier gets its best case: a local git repository holding both versions as `_src_path`.
# After the timed runs, both results are compared file by file.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
BIN="$REPO/.venv/bin"
OUT="$REPO/build/bench"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
# Byte-compiled as a wheel install is (pip compiles it): with PYTHONDONTWRITEBYTECODE set, an editable
# checkout would otherwise compile every scaffold module again on every timed run.
"$BIN/python" -m compileall -q scaffold >/dev/null
RUNS="${BENCH_RUNS:-3}"
SERVICES="${BENCH_SERVICES:-100}"

# A newer scaffold: version 0.2.0 whose backend and ecosystem templates changed.
"$BIN/python" - "$WORK/newer" <<'EOF'
import sys
from pathlib import Path
from tests.update_helpers import newer_scaffold
newer_scaffold(Path(sys.argv[1]), "0.2.0", {
    "backend/Dockerfile.jinja": ("", "# Built from scaffold's backend template 0.2.0.\n"),
    "backend/README.md.jinja": ("", "\nThis service follows the ecosystem's conventions (template 0.2.0).\n"),
    "ecosystem/README.md.jinja": ("", "\nUpdated by scaffold 0.2.0.\n"),
})
EOF
NEWER=(env "PYTHONPATH=$WORK/newer" "$BIN/python" -P -m scaffold)  # -P: not the checkout in the cwd
"$BIN/python" -m compileall -q "$WORK/newer" >/dev/null

# The fleet, made by this scaffold (0.1.0) and committed.
"$BIN/python" -m bench.ecosystem "$SERVICES" "$WORK" >/dev/null

# The meta-project's store gets 0.2.0 (as after any first `scaffold update`), so that both tools
# find both versions; copier reads them from a plain git repository made from that store.
cp -a "$WORK/shop" "$WORK/seed"
"${NEWER[@]}" update svc001 -C "$WORK/seed" >/dev/null
cp "$WORK/seed/.scaffold/templates/builtin.bundle" "$WORK/shop/.scaffold/templates/builtin.bundle"
git -C "$WORK/shop" -c user.name=bench -c user.email=bench@localhost commit --quiet -am "store 0.2.0"
git clone --quiet "$WORK/shop/.scaffold/templates/builtin.bundle" "$WORK/templates.git" 2>/dev/null  # no HEAD in it
git -C "$WORK/templates.git" checkout --quiet -b main v0.2.0
cp -a "$WORK/shop" "$WORK/shop-copier"
sed -i "s|^_src_path: .*|_src_path: $WORK/templates.git|" "$WORK"/shop-copier/services/*/.copier-answers.yml
git -C "$WORK/shop-copier" -c user.name=bench -c user.email=bench@localhost commit --quiet -am "copier source"

cat > "$WORK/copier-loop.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
for service in "$WORK"/run-copier/services/*/; do
  (cd "\$service" && "$BIN/copier" update --defaults --trust --quiet >/dev/null)
done
EOF
chmod +x "$WORK/copier-loop.sh"

hyperfine --runs "$RUNS" --export-json "$OUT/update.json" \
  --prepare "rm -rf $WORK/run-scaffold && cp -a $WORK/shop $WORK/run-scaffold" \
  --command-name "scaffold update --all" \
  "env PYTHONPATH=$WORK/newer $BIN/python -P -m scaffold update --all -C $WORK/run-scaffold" \
  --prepare "rm -rf $WORK/run-copier && cp -a $WORK/shop-copier $WORK/run-copier" \
  --command-name "copier update loop" \
  "$WORK/copier-loop.sh"

# Same work done: every service's files are identical (answers files name different sources).
diff -r -q -x .git -x .copier-answers.yml "$WORK/run-scaffold/services" "$WORK/run-copier/services"
echo "scaffold and the copier loop wrote the same $SERVICES services."

"$BIN/python" -m bench.summary "$OUT/update.json" --ratio "scaffold update --all" "copier update loop" 0.05

# BENCH_ETA=1: once more, under a terminal, the bar's time-left estimates against the time really left.
if [ "${BENCH_ETA:-0}" = 1 ]; then
  rm -rf "$WORK/run-scaffold" && cp -a "$WORK/shop" "$WORK/run-scaffold"
  env "PYTHONPATH=$WORK/newer:$REPO" "$BIN/python" -m bench.progress_truth -- \
    env "PYTHONPATH=$WORK/newer" "$BIN/python" -P -m scaffold update --all -C "$WORK/run-scaffold"
fi
