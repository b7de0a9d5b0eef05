#!/usr/bin/env bash
# Reproduces the "Main job" figures of benchmarks/RESULTS.md, one step after another
# (never two torch processes at once on 2 cores).
#   bash benchmarks/bench_main.sh [RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/ml100k-cpu}
time make run RUN_DIR="$RUN"                                                       # stage times: $RUN/timings.json
.venv/bin/recalign run -c configs/ml100k-cpu.yaml --run-dir "$RUN" --ablation     # adds recalign-t5-rec-only
.venv/bin/recalign baseline --model GRU4Rec --run-dir "$RUN" --time-budget 240
.venv/bin/recalign baseline --model BERT4Rec --run-dir "$RUN" --time-budget 240
.venv/bin/recalign compare "$RUN"                                                  # the quality table
