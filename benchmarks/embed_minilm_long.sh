#!/usr/bin/env bash
# The long MiniLM embedder recipe (issue 22): its UH2I row against BPR/Pop in one table, and every query task
# against the zero-shot MiniLM. Not `make embed` (≈ 2.5 hours of 2 AVX2 cores in fp32, 98 minutes of it MiniLM training; AVX512-BF16 less):
#   stage 1 — 300 steps of UH2I only (20 train queries per user, 3 hard + in-batch negatives, lr 1e-4);
#   stage 2 — 360 steps of all ten tasks from stage 1's model, UH2I weighted (all 18,693 of its queries, the
#             other nine capped at 1,300 each: ≈ 62% UH2I), same knobs; the zero-shot MiniLM as an arm;
#   stage 3 — 200 more steps of stage 2's mixture from its model at lr 5e-5;
#   then the from-scratch encoder (1,000 steps, same mixture) and SASRec join the table.
# Every stage is evaluated (embed-minilm-uh2i, -2stage, -3stage): the table is a learning curve.
#   flock /tmp/recalign-cpu.lock bash benchmarks/embed_minilm_long.sh [RUN]        (RUN default runs/embed-minilm-long)
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:-runs/embed-minilm-long}
RECALIGN=${RECALIGN:-.venv/bin/recalign}
CFG=configs/embed-ml100k-minilm.yaml
# shared by every stage (a later -o of the same key wins: stage 3's and the scratch arm's learning rate)
KNOBS=(-o query.train_per_user=20 -o query.num_negatives=3 -o in_batch_negatives=true -o learning_rate=0.0001)
MIX=(-o "max_train_per_task={uh2i: 0, '*': 1300}")   # stages 2, 3 and the scratch arm: 62% UH2I
lscpu | grep "Model name" || true
"$RECALIGN" baseline --model BPR --run-dir "$R" --threads 2
"$RECALIGN" baseline --model Pop --run-dir "$R" --threads 2
"$RECALIGN" train-embedder --config $CFG --run-dir "$R" --no-zero-shot -o 'arms=[]' -o name=embed-minilm-uh2i \
  -o 'tasks=[uh2i]' -o max_steps=300 "${KNOBS[@]}"
mkdir -p "$R/stages" && rm -rf "$R/stages/uh2i" && cp -r "$R/embed/model" "$R/stages/uh2i"
"$RECALIGN" train-embedder --config $CFG --run-dir "$R" --no-zero-shot -o model="$R/stages/uh2i" \
  -o name=embed-minilm-2stage -o max_steps=360 "${MIX[@]}" "${KNOBS[@]}" \
  -o 'arms=[{name: embed-minilm-zero-shot, model: minilm, zero_shot: true}]'
rm -rf "$R/stages/2stage" && cp -r "$R/embed/model" "$R/stages/2stage"
"$RECALIGN" train-embedder --config $CFG --run-dir "$R" --no-zero-shot -o model="$R/stages/2stage" -o 'arms=[]' \
  -o name=embed-minilm-3stage -o max_steps=200 "${MIX[@]}" "${KNOBS[@]}" \
  -o learning_rate=0.00005
rm -rf "$R/stages/3stage" && cp -r "$R/embed/model" "$R/stages/3stage"
# the from-scratch encoder under the same mixture and knobs (1,000 steps), and SASRec, in the same table
"$RECALIGN" train-embedder --config $CFG --run-dir "$R" --no-zero-shot -o 'arms=[]' -o model=embed-tiny \
  -o name=embed-scratch -o max_steps=1000 -o warmup_ratio=0.05 -o vocab_size=4000 -o bf16=false \
  "${MIX[@]}" "${KNOBS[@]}" -o learning_rate=0.001
"$RECALIGN" baseline --model SASRec --run-dir "$R" --threads 2
"$RECALIGN" compare "$R"
