# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tests also run a student's `grader check` as an ordinary user, who cannot run a Python
# under /root: they use a second environment made from the system's Python.
SYSTEM_PYTHON ?= /usr/bin/python3
STUDENT_VENV := .venv-student

.PHONY: demo test test-fast lint bench bench-peers system-packages student-env clean

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages: bubblewrap (the sandbox) and chromium (the browser test of the reports).
system-packages:
	@./.ci/system-packages

demo: $(BIN)/grader
	$(BIN)/grader demo

lint: $(BIN)/grader
	$(BIN)/ruff check grader tests
	$(BIN)/ruff format --check grader tests

$(STUDENT_VENV)/.installed: pyproject.toml
	$(SYSTEM_PYTHON) -m venv $(STUDENT_VENV)
	$(STUDENT_VENV)/bin/pip install --quiet --upgrade pip
	$(STUDENT_VENV)/bin/pip install --quiet .
	touch $@

student-env:
	@if [ -x $(SYSTEM_PYTHON) ]; then $(MAKE) --no-print-directory $(STUDENT_VENV)/.installed; \
	else echo "note: no $(SYSTEM_PYTHON): the tests run as an ordinary user are skipped"; fi

test: system-packages $(BIN)/grader student-env lint
	$(BIN)/grader generate --check
	$(BIN)/pytest

# The edit-test loop, under a minute: ruff and every test not marked `slow` (no notebook, no
# graded submission, no grader in a process of its own, no full-size data set, no rendered
# report, no zip or venv built), timed. CI runs `make test`, all of it. PYTEST_ARGS adds
# options to pytest (e.g. --basetemp=DIR, -x).
test-fast: $(BIN)/grader
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint && $(BIN)/pytest -m "not slow" -q $(PYTEST_ARGS); status=$$?; \
	echo "make test-fast: $$(( $$(date +%s) - start )) s"; exit $$status

bench: $(BIN)/grader
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# The peers of issue 13, each in its own venv under .bench/ (gitignored; never the product's
# dependencies): nbgrader and otter-grader from PyPI, plus what the homework's notebook needs (the
# notebook packages of pyproject.toml). Then the whole benchmark runs with them: they grade the
# demo's 8 submissions on the fast synthetic data beside ours, in the one table. BENCH_ARGS adds
# options (e.g. --markdown FILE); `python -m benchmarks.peers` runs the peers alone.
PEERS := .bench
NOTEBOOK_PACKAGES := numpy matplotlib ipykernel nbformat nbclient

$(PEERS)/%/.installed:
	$(PYTHON) -m venv $(PEERS)/$*
	$(PEERS)/$*/bin/pip install --quiet --upgrade pip
	$(PEERS)/$*/bin/pip install --quiet $(if $(filter otter,$*),otter-grader,$*) $(NOTEBOOK_PACKAGES)
	touch $@

bench-peers: $(BIN)/grader $(PEERS)/nbgrader/.installed $(PEERS)/otter/.installed
	$(BIN)/python benchmarks/bench.py --peers $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(STUDENT_VENV) demo-output .pytest_cache
