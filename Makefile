# Two commands on a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv and install the project, editable, with dev extras.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synesthesia-installed
# torch is installed before the project so a CPU-only machine gets the CPU
# wheel (pip finds it on this machine's disk); a GPU node gets a CUDA build.
TORCH ?= torch==2.13.0

.PHONY: venv demo test test-setup faults bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/synesthesia demo --out demo-output

# What the slow tests need (Label Studio's and vLLM's own environments,
# Debian's chromium), installed before pytest so that no test's timeout
# includes an install. Idempotent: stamps inside each environment. The
# script needs only the standard library, so `make test` runs it side by
# side with the install of .venv.
test-setup:
	$(PYTHON) scripts/test_setup.py

# Two pytest processes (pytest-xdist), each test file kept in one of them so
# that a file's module-scoped servers start once: the suite spends much of its
# time waiting on servers and subprocesses, so 2 processes on 2 cores take
# ~9.5 minutes where one takes ~15. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test:
	$(MAKE) -j2 venv test-setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The fault-injection suite, the kill-at-every-stage matrix included (~15 min on 2 cores).
faults: $(STAMP)
	$(BIN)/python -m pytest -m faults

bench: $(STAMP)
	$(BIN)/python benchmarks/audio_stage.py
	$(BIN)/python benchmarks/mpd_annotation.py
	$(BIN)/python benchmarks/greedy_pairing.py
	$(BIN)/python benchmarks/museart.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
