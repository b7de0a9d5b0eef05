#!/usr/bin/env bash
# one.sh NAME BASE STEPS SEED [train -o args...]: copy the generated run dir $WORK/BASE, train STEPS steps
# (no time budget: the cosine schedule follows the steps) with configs/ml100k-cpu-ids-aux.yaml's train
# section plus the overrides, evaluate retrieval (seen templates, test, full ranking), print NDCG@10.
name=$1; base=$2; steps=$3; seed=$4; shift 4
W=${WORK:-/tmp/w}; out=$W/$name; R="python3 -m recalign.cli"
rm -rf $out; cp -r $W/$base $out
t0=$(date +%s)
$R train --config configs/ml100k-cpu-ids-aux.yaml --run-dir $out --report-to none -o time_budget_minutes=null \
  -o schedule_by_time=false -o max_steps=$steps -o "mixture.total=$((steps*256+2000))" -o seed=$seed \
  -o eval_steps=100000 -o save_steps=100000 -o curve.users=0 "$@" > $W/$name.train.log 2>&1 || { echo "$name TRAIN FAILED"; tail -5 $W/$name.train.log; exit 0; }
$R evaluate --run-dir $out --tasks retrieval --templates seen --no-progress > $W/$name.eval.log 2>&1 || { echo "$name EVAL FAILED"; tail -5 $W/$name.eval.log; exit 0; }
python3 -c "
import json; m=json.load(open('$out/results/recalign-t5/metrics.json')); i=json.load(open('$out/model/recalign_train.json'))
print('$name', 'ndcg@10=%.4f recall@10=%.4f'%(m['retrieval']['ndcg@10'],m['retrieval']['recall@10']), 'steps', i['global_step'], 'wall', $(date +%s)-$t0)"
rm -rf $out/checkpoints $out/text
