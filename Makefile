# Two commands a new user needs: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench torture properties fuzz clean dist-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed packages are refreshed whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The demo repository is rebuilt from scratch in build/demo each time (build/ is ignored by git).
demo: $(VENV)/.installed
	rm -rf build/demo
	$(BIN)/assetdb demo build/demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n 2

# Benchmarks are run by hand: they report ratios against a baseline from the same run.
# The packages are byte-compiled first, as an installed wheel is: an editable install
# under PYTHONDONTWRITEBYTECODE would compile every module again in every timed process.
bench: $(VENV)/.installed
	$(BIN)/python -m compileall -q consolidation pytest_assetdb
	$(BIN)/python bench/migrate_bench.py
	$(BIN)/python bench/assets_bench.py
	$(BIN)/python bench/gate_bench.py
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/hostile_bench.py

# Seeded SIGKILLs of every writing command, each rerun and judged; prints a table of figures.
torture: $(VENV)/.installed
	$(BIN)/python bench/torture.py --kills 30 --scale moderate --seed 13 --full-disk

# Many more seeds of the random legacy sets the suite runs a few of (tests/test_merge_properties.py).
properties: $(VENV)/.installed
	ASSETDB_PROPERTY_SEEDS=500 $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider tests/test_merge_properties.py

# Seeded random workflows on the demo repository in real git, the gate after every step.
fuzz: $(VENV)/.installed
	$(BIN)/python bench/workflow_fuzz.py --seeds 40 --steps 14

# What a user installs, checked as a user gets it: the wheel installed into a new virtual
# environment, and the whole test suite run from the unpacked sdist against it (the sdist's
# own copies of the packages are set aside, so every import is the wheel's).
DIST := build/dist-check
dist-check: $(VENV)/.installed
	rm -rf $(DIST) && mkdir -p $(DIST)
	$(BIN)/python -m build --outdir $(DIST)/dist .
	$(PYTHON) -m venv $(DIST)/venv
	$(DIST)/venv/bin/python -m pip install --quiet "$$(ls $(DIST)/dist/*.whl)[test]"
	tar -xzf $(DIST)/dist/*.tar.gz -C $(DIST)
	cd $(DIST)/pytest_assetdb-*/ && rm -rf consolidation pytest_assetdb && ../venv/bin/python -m pytest -n 2 -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
