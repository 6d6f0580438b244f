# The README's two commands: `make demo` and `make test`. Each creates .venv when
# missing and installs CPU torch and hepml[all,dev] into it; the install is redone
# only when setup.cfg or pyproject.toml change (the stamp file below).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hepml-installed
# CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
# where this machine's pip config does not hold the CPU wheel:
# TORCH_INDEX=https://download.pytorch.org/whl/cpu (PyTorch's CPU-only index)
TORCH_INDEX ?=
PYTEST_ARGS ?=

.PHONY: demo test lint bench bench-deps clean-venv

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check \
		$(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[all,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hepml demo

# -X faulthandler: a crash after the tests (at interpreter exit, where pytest's own
# handler is off) still prints every thread's stack
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -X faulthandler -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_io.py

# references that only the benchmarks use; weaver-core without its heavy requirements
# (bench_training.py imports its ParticleNet module alone, which needs torch only)
bench-deps: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps weaver-core==0.5.3

clean-venv:
	rm -rf $(VENV)
