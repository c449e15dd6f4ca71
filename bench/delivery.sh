#!/usr/bin/env bash
# What `scaffold deploy` and `scaffold status` add to the helm and kubectl commands they run (hyperfine).
#   bash bench/delivery.sh      (needs .venv from `make install` and hyperfine)
# No cluster or helm binary exists here: both run against the recording stand-ins of
# tests/kube_standin.py, and each is compared with a shell script replaying the exact command lines
# it ran (recorded by the stand-ins), so the ratio is scaffold's own cost: start-up, reading
# ecosystem.yaml, the derived-files check, parsing. Against a real cluster the rollout dominates.
# Results: build/bench/delivery.json; BENCH_RUNS (10) adjusts the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
OUT="$PWD/build/bench"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
RUNS="${BENCH_RUNS:-10}"

(cd "$WORK" && "$BIN/scaffold" init shop --defaults >/dev/null)
"$BIN/scaffold" new backend orders --defaults -C "$WORK/shop" >/dev/null
cat > "$WORK/images.json" <<JSON
{"schema": 1, "commit": "$(git -C "$WORK/shop" rev-parse HEAD)", "dirty": false,
 "images": {"orders": {"repository": "registry.example.com/shop/orders", "tag": "t",
                       "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"}}}
JSON
# The stand-ins on PATH, a cluster with the release installed once; replay scripts of one run of each.
"$BIN/python" - "$WORK" <<'PY'
import json, os, shlex, subprocess, sys
from pathlib import Path
sys.path.insert(0, os.getcwd())
from tests import kube_standin
work = Path(sys.argv[1])
env = kube_standin.install(work / "bin", work / "calls.jsonl", work / "cluster.json", kube_standin.cluster())
(work / "env.sh").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
scaffold = [str(Path(".venv/bin/scaffold").resolve())]
def record(name, *args):
    (work / "calls.jsonl").unlink(missing_ok=True)
    subprocess.run([*scaffold, *args, "-C", str(work / "shop")], env={**os.environ, **env}, check=True, capture_output=True)
    lines = ["set -e"]
    for index, call in enumerate(kube_standin.calls(work / "calls.jsonl")):
        args = list(call["args"])
        for path, content in call.get("values", {}).items():
            if not Path(path).exists():  # scaffold's temporary values file: a copy of it
                copy = work / f"{name}-values-{index}.json"
                copy.write_text(content)
                args = [str(copy) if a == path else a for a in args]
        lines.append(shlex.join([str(work / "bin" / call["program"]), *args]) + (" || true" if call["exit"] else ""))
    (work / f"{name}.sh").write_text("\n".join(lines) + "\n")
record("deploy", "deploy", "test", "--images", str(work / "images.json"))
record("status", "status", "test")
PY
# shellcheck disable=SC1091
source "$WORK/env.sh"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/delivery.json" \
  --command-name "scaffold status test" "$BIN/scaffold status test -C $WORK/shop" \
  --command-name "status: the same commands" "bash $WORK/status.sh" \
  --command-name "scaffold deploy test" "$BIN/scaffold deploy test --images $WORK/images.json -C $WORK/shop" \
  --command-name "deploy: the same commands" "bash $WORK/deploy.sh"
"$BIN/python" - "$OUT/delivery.json" <<'PY'
import json, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
for name in ("status", "deploy"):
    own, raw = runs[f"scaffold {name} test"], runs[f"{name}: the same commands"]
    print(f"scaffold {name}: median {own['median']:.3f} s (min {own['min']:.3f}, max {own['max']:.3f}); "
          f"the same commands {raw['median']:.3f} s; ratio {own['median'] / raw['median']:.2f}")
PY
