# `make run`: set everything up and serve the app on http://127.0.0.1:7860 (embedded model, offline).
# `make test`: set everything up and run the whole test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: setup system run test bench model clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps -e .
	touch $@

system:
	bash scripts/setup-system.sh

setup: system $(VENV)/.installed

run: setup
	$(PY) app.py

test: setup
	$(PY) -m pytest -q -rs

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

model: setup
	$(PY) -m storyteller.model.build

clean:
	rm -rf $(VENV) .pytest_cache
