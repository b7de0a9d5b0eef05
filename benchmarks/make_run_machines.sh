#!/bin/bash
# issue 21 (RESULTS.md, "The same result on any machine"): `make run` from a fresh clone, twice, one after
# the other under the CPU lock: (1) this CPU as it is, (2) torch's kernels and oneDNN capped at AVX2
# (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2: bf16: auto then trains in fp32, as on an AVX2-only CPU).
#   benchmarks/make_run_machines.sh [OUT_DIR]      (clones into OUT_DIR/mr-<name>, logs OUT_DIR/<name>.log)
set -u
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
OUT=$(realpath -m "${1:-/tmp/recalign-machines}"); mkdir -p "$OUT"
one() {  # name, env...
  name=$1; shift
  rm -rf "$OUT/mr-$name"; git clone -q "$REPO" "$OUT/mr-$name"
  cd "$OUT/mr-$name"
  git log --oneline -1 > "$OUT/$name.commit"
  s=$(date +%s)
  env "$@" make run > "$OUT/$name.log" 2>&1
  rc=$?
  e=$(date +%s)
  echo "rc=$rc wall_s=$((e-s)) start=$(date -d @$s +%H:%M:%S) end=$(date -d @$e +%H:%M:%S)" > "$OUT/$name.time"
}
export OUT REPO
flock /tmp/recalign-cpu.lock bash -c "$(declare -f one); one native X=1"
flock /tmp/recalign-cpu.lock bash -c "$(declare -f one); one avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2"
