# Two commands for a fresh machine: `make repro` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DVC    := $(BIN)/dvc
# A CPU build of torch; GPU users install their own torch first (any version in the
# pyproject range), and this step then installs nothing.
TORCH_SPEC ?= torch==2.13.0
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false

# Offline pages for `dvc plots show/diff`: the template inlines the vendored Vega scripts
# (vendor/vega) and .dvc/config names it (plots.html_template, a path relative to .dvc/). It is
# generated and ignored, and `venv` builds it, so a fresh clone has it before dvc runs.
PLOTS_TEMPLATE := .dvc/plots/offline.html
VEGA_VENDOR    := vendor/vega
# `make plots`: one page per family, dvc_plots/<family>/index.html (ignored). `dvc.yaml::<id>`
# selects a plot of dvc.yaml, top-level id or stage plot, and, unlike a bare path, is not also
# read as a raw file with default axes.
PLOT_FAMILIES  := steps dev grad geometry pairs paradigm
PLOTS_steps    := dvc.yaml::metrics/plots/steps
PLOTS_dev      := dvc.yaml::metrics/plots/dev
PLOTS_grad     := dvc.yaml::metrics/plots/grad
PLOTS_geometry := dvc.yaml::metrics/plots/analysis dvc.yaml::metrics/plots/dynamics
PLOTS_pairs    := dvc.yaml::metrics/plots/pairs
PLOTS_paradigm := dvc.yaml::ori_vs_mod dvc.yaml::sg_margin dvc.yaml::sg_weight_temperature dvc.yaml::sg_ratio
PLOT_PAGES     := $(addprefix plots-,$(PLOT_FAMILIES))

.PHONY: venv repro pull test bench lint plots plots-template $(PLOT_PAGES)

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

$(PLOTS_TEMPLATE): scripts/build_plots_template.py $(VEGA_VENDOR)/manifest.json $(wildcard $(VEGA_VENDOR)/*.min.js)
	$(PYTHON) scripts/build_plots_template.py --vendor $(VEGA_VENDOR) --out $@

plots-template: $(PLOTS_TEMPLATE)

venv: $(BIN)/.installed $(PLOTS_TEMPLATE)

# Build what is missing or stale, then push it to the default remote (.dvc/config: a directory
# beside the work tree), so another clone can `make pull` instead of recomputing.
repro: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro
	$(DVC) push

# A fresh clone: fetch every output of the committed dvc.lock from the remote (no recomputation).
pull: venv
	$(DVC) pull

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: venv
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

bench: venv
	$(BIN)/python benchmarks/eval_speed.py

lint: venv
	$(BIN)/ruff check src stages tests benchmarks scripts

plots: $(PLOT_PAGES)

# dvc writes no page, and exits 0, when no plot matched: `test -s` makes that an error
$(PLOT_PAGES): plots-%: venv
	rm -f dvc_plots/$*/index.html
	mkdir -p dvc_plots/$*
	$(DVC) plots show $(PLOTS_$*) -o dvc_plots/$*
	test -s dvc_plots/$*/index.html
