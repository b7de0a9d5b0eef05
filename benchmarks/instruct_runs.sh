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
