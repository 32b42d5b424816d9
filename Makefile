# Two commands for a fresh machine: `make repro` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# A CPU build of torch; GPU users install their own torch first (any version in the
# pyproject range), and this step then installs nothing.
TORCH_SPEC ?= torch==2.13.0
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv repro test bench lint clean-cache

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

repro: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: venv
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

bench: venv
	$(BIN)/python benchmarks/eval_speed.py

lint: venv
	$(BIN)/ruff check src stages tests benchmarks
