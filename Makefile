# Two commands a new user needs: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

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
bench: $(VENV)/.installed
	$(BIN)/python bench/migrate_bench.py
	$(BIN)/python bench/assets_bench.py
	$(BIN)/python bench/gate_bench.py
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/hostile_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
