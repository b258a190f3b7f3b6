# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench system-packages clean

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages: bubblewrap (the sandbox) and chromium (the browser test of the reports).
system-packages:
	@./.ci/system-packages

demo: $(BIN)/grader
	@command -v bwrap >/dev/null || echo "note: bubblewrap is not installed: the demo runs without a sandbox (apt-get install bubblewrap)"
	$(BIN)/grader demo

lint: $(BIN)/grader
	$(BIN)/ruff check grader tests
	$(BIN)/ruff format --check grader tests

test: system-packages $(BIN)/grader lint
	$(BIN)/grader generate --check
	$(BIN)/pytest

bench: $(BIN)/grader
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
