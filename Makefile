# `make run`: set everything up and serve the app on http://127.0.0.1:7860 (embedded model, offline).
# `make test`: set everything up and run the whole test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

STEADY := .cache/steady/node_modules/.bin/steady

.PHONY: setup system run test bench model clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# requirements.txt names the CPU wheel index for Spaces; where that index cannot be reached (CI,
	@# offline mirrors) pip would retry it for every package, so the local install leaves it out.
	sed '/^--extra-index-url/d' requirements.txt > $(VENV)/requirements-local.txt
	sed 's#^-r requirements.txt#-r requirements-local.txt#' requirements-dev.txt > $(VENV)/requirements-dev-local.txt
	$(PIP) install -q -r $(VENV)/requirements-dev-local.txt
	$(PIP) install -q --no-deps -e .
	touch $@

system:
	bash scripts/setup-system.sh

setup: system $(VENV)/.installed

run: setup
	$(PY) app.py

# The OpenAI spec mock server the contract tests run against (npm; skipped where npm is missing).
$(STEADY):
	@if command -v npm >/dev/null; then npm install --no-audit --no-fund --silent --prefix .cache/steady @stdy/cli@0.22.1; \
	else echo "npm not found: the OpenAI contract tests will be skipped"; fi

test: setup $(STEADY)
	@# Two or more workers (CI has two cores); a module's tests stay on one worker with its fixtures.
	$(PY) -m pytest -q -rs --durations=15 -n auto --maxprocesses=4 --dist loadscope

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

model: setup
	$(PY) -m storyteller.model.build

clean:
	rm -rf $(VENV) .pytest_cache .cache
