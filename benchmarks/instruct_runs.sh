#!/bin/bash
# issue 23 (RESULTS.md, "The paper's method as the main job"): three runs of the default `make run`
# (configs/ml100k-cpu-instruct.yaml), one after the other under the CPU lock, each from a fresh clone with
# its own install:
#   native  — this CPU as it is, training seed 0 (the shipped `make run`)
#   seed1   — training seed 1, plus the rec-only arm at the same 800 steps (--ablation true): the auxiliary
#             tasks' paired price or gain
#   avx2    — training seed 2 with torch's kernels and oneDNN capped at AVX2 (bf16: auto trains in fp32 there,
#             as on an AVX2-only CPU)
#   benchmarks/instruct_runs.sh [OUT_DIR]        (clones into OUT_DIR/ir-<name>, logs OUT_DIR/<name>.log)
set -u
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
OUT=$(realpath -m "${1:-/tmp/recalign-instruct}"); mkdir -p "$OUT"
one() {  # name, RUN_ARGS, env...
  name=$1; args=$2; shift 2
  rm -rf "$OUT/ir-$name"; git clone -q "$REPO" "$OUT/ir-$name"
  cd "$OUT/ir-$name"
  git log --oneline -1 > "$OUT/$name.commit"
  s=$(date +%s)
  env "$@" make run RUN_ARGS="$args" > "$OUT/$name.log" 2>&1
  rc=$?
  e=$(date +%s)
  echo "rc=$rc wall_s=$((e-s)) start=$(date -d @$s +%H:%M:%S) end=$(date -d @$e +%H:%M:%S)" > "$OUT/$name.time"
}
export OUT REPO
flock /tmp/recalign-cpu.lock bash -c "$(declare -f one); one native '' X=1"
flock /tmp/recalign-cpu.lock bash -c "$(declare -f one); one seed1 '-o train.seed=1 --ablation true' X=1"
flock /tmp/recalign-cpu.lock bash -c "$(declare -f one); one avx2 '-o train.seed=2' ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2"
# One table for the three: the seed-0 run directory with every run's fine-tuned results beside its baselines
# (recalign-t5-seed<i>, recalign-t5-rec-only-seed1), the rating baseline refitted by this checkout (its E[r]
# columns, paired with the model's), then `recalign compare` (seeds as mean ± std; each run paired by user).
COMB="$OUT/combined"; rm -rf "$COMB"; cp -r "$OUT/ir-native/runs/ml100k-cpu" "$COMB"; rm -rf "$COMB/results/recalign-t5"
"$REPO/.venv/bin/python" - "$OUT" "$COMB" <<'PY'
import json, shutil, sys
from pathlib import Path
out, comb = Path(sys.argv[1]), Path(sys.argv[2])
for run, src, dst in [("native", "recalign-t5", "recalign-t5-seed0"), ("seed1", "recalign-t5", "recalign-t5-seed1"),
                      ("seed1", "recalign-t5-rec-only", "recalign-t5-rec-only-seed1"),
                      ("avx2", "recalign-t5", "recalign-t5-seed2")]:
    d = comb / "results" / dst
    shutil.copytree(out / f"ir-{run}" / "runs" / "ml100k-cpu" / "results" / src, d)
    m = json.loads((d / "metrics.json").read_text()); m["model"] = dst
    (d / "metrics.json").write_text(json.dumps(m, indent=2))
PY
"$REPO/.venv/bin/python" -c "from recalign.baselines.bias import run_bias_baseline; run_bias_baseline('$COMB')"
"$REPO/.venv/bin/recalign" compare "$COMB" > "$OUT/combined.txt" 2>&1
