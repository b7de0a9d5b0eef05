#!/usr/bin/env bash
# Item representation, side by side on ml-100k (issue 10): one setting per call, the same harness
# and the same training budget for each (rec-only: retrieval, ranking, rating; t5-tiny from scratch).
#   flock /tmp/recalign-cpu.lock benchmarks/items_quality.sh title-title   # today's default
#   flock /tmp/recalign-cpu.lock benchmarks/items_quality.sh idtitle-id    # id+title -> atomic id
#   flock /tmp/recalign-cpu.lock benchmarks/items_quality.sh id-id         # id -> atomic id
#   flock /tmp/recalign-cpu.lock benchmarks/items_quality.sh title-id      # title -> atomic id
#   flock /tmp/recalign-cpu.lock benchmarks/items_quality.sh id-id-compact # id -> atomic id, item_compact
# BUDGET (minutes, default 5) and OUT (default runs/items) may be set in the environment; AUX=1
# trains rec + aux (every task, the default run's rates) instead of rec-only; BF16 (default false:
# the first table's fp32) sets train.bf16; TRAIN_EXTRA adds train overrides ("-o k=v -o k=v").
# Prints the test retrieval metrics (seen templates, full catalogue, history masked).
set -euo pipefail
setting=${1:?usage: items_quality.sh title-title|idtitle-id|id-id|title-id|id-id-compact}
budget=${BUDGET:-5}
out=${OUT:-runs/items}/$setting
case $setting in
  title-title) items=(--item-input title --item-target title) ;;
  idtitle-id)  items=(--item-input id+title --item-target id --item-ids atomic) ;;
  id-id)       items=(--item-input id --item-target id --item-ids atomic) ;;
  title-id)    items=(--item-input title --item-target id --item-ids atomic) ;;
  id-id-compact) items=(--item-input id --item-target id --item-ids atomic --item-compact) ;;
  *) echo "unknown setting $setting" >&2; exit 2 ;;
esac
tasks=retrieval,ranking,rating
mixture="{strategy: rates, rates: {retrieval: 0.6, ranking: 0.2, rating: 0.2}, total: 60000}"
if [ "${AUX:-0}" = 1 ]; then
  tasks=retrieval,ranking,rating,mim,mlm,bpr
  mixture="{strategy: rates, rates: {retrieval: 0.5, ranking: 0.1, rating: 0.1, mim: 0.1, mlm: 0.1, bpr: 0.1}, total: 60000}"
  out=$out-aux
fi
R=${RECALIGN:-.venv/bin/recalign}
rm -rf "$out"
t0=$(date +%s)
$R generate -d ml-100k --run-dir "$out" --tasks $tasks --history-len 10 --num-candidates 20 \
  "${items[@]}" --no-progress >/dev/null
$R train --config configs/ml100k-cpu.yaml --run-dir "$out" --report-to none \
  -o time_budget_minutes="$budget" \
  -o "mixture=$mixture" -o bf16="${BF16:-false}" ${TRAIN_EXTRA:-} \
  -o eval_steps=100000 -o save_steps=100000 -o curve.users=0 2>&1 | grep -E "^trained" || true
$R evaluate --run-dir "$out" --tasks retrieval --templates seen --no-progress 2>&1 | grep -E "^retrieval" || true
python3 - "$out" "$t0" <<'PY'
import json, sys, time
run, t0 = sys.argv[1], int(sys.argv[2])
m = json.load(open(f"{run}/results/recalign-t5/metrics.json"))
info = json.load(open(f"{run}/model/recalign_train.json"))
r = m["retrieval"]
print(json.dumps({"setting": run.rsplit("/", 1)[-1], "ndcg@10": r["ndcg@10"], "recall@10": r["recall@10"],
                  "recall@20": r["recall@20"], "users": r["users"], "users_per_s": r["users_per_s"],
                  "steps": info["global_step"], "train_examples_seen": info["global_step"] * 32,
                  "train_s": info["train_runtime_s"], "params": info["num_parameters"],
                  "wall_s": int(time.time()) - t0}))
PY
