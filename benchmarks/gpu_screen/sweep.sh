#!/usr/bin/env bash
# GPU screen of the item-ID recipe at a fixed step count (issue 10; RESULTS.md "Toward SASRec, part 3").
#   bash benchmarks/gpu_screen/sweep.sh benchmarks/gpu_screen/jobs.txt 15
# Runs from the repository root on a machine whose python3 has torch; the packages it lacks travel as
# wheels in .whl/ (the device tool's README says how). Generates two bases (configs/ml100k-cpu-ids-aux.yaml:
# all six tasks; "lean": the same with one short retrieval layout), then runs the jobs file's lines
# (NAME BASE STEPS SEED [-o KEY=VALUE ...]) PARALLEL at a time through one.sh.
set -u
jobs=$1; par=$2
[ -d .whl ] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD WORK=/tmp/w OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python3 -c "import torch,transformers,pandas,numpy;print(torch.__version__,transformers.__version__,pandas.__version__,numpy.__version__,torch.cuda.is_available())"
LEAN=$WORK/lean-templates; mkdir -p $WORK $LEAN; cp benchmarks/gpu_screen/lean-retrieval.yaml $LEAN/retrieval.yaml; R="python3 -m recalign.cli"; t0=$(date +%s)
$R generate --config configs/ml100k-cpu-ids-aux.yaml -d ml-100k --run-dir $WORK/base --no-progress > $WORK/gen.log 2>&1 &
$R generate --config configs/ml100k-cpu-ids-aux.yaml -d ml-100k --run-dir $WORK/lean --templates $LEAN --no-progress > $WORK/genl.log 2>&1 &
wait; echo "generated in $(( $(date +%s)-t0 )) s"
grep -v '^#' $jobs | xargs -P $par -L 1 benchmarks/gpu_screen/one.sh | tee ${OUT:-/tmp}/results.txt
echo "total $(( $(date +%s)-t0 )) s"; nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null
