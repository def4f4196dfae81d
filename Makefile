# Two commands on a fresh machine:  make demo   |   make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps bytecode resco demo live test test-fast test-slow test-parallel test-wallclock lint bench \
	clean

setup: $(STAMP) system-deps bytecode

# Python packages into a venv; re-run when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages: Mosquitto (the broker), Prometheus (monitoring tests), Chromium (replay report test).
system-deps:
	@bash scripts/install-system-deps.sh

# The project's bytecode, written once: every `simulate` and test process would otherwise compile
# the modules from source where PYTHONDONTWRITEBYTECODE is set (about 0.2 s CPU per process;
# BENCHMARKS.md, issue 12). Python checks each file's mtime, so an edited module is recompiled.
bytecode: $(STAMP)
	@$(PY) -m compileall -q controller sim run_controller.py > /dev/null

demo: setup
	$(PY) -m sim.demo

# Broker + service + SUMO field + Prometheus, live on this machine (docs/operators.md); Ctrl-C stops all.
# SPEED=5 runs the clock five times faster.
SPEED ?= 1
live: setup
	$(PY) -m sim.live_demo --speed $(SPEED)

# `make test` runs every part even when one fails, and fails if any failed (CI: .ci/run; tests/unit/test_make_test.py).
# Lint runs beside the wallclock pass, which waits on wall time with most of the two cores idle; its output is kept
# and printed after the pass. Not niced: on this shared machine a niced lint would get a tenth of its fair share and
# outlast the pass by minutes (BENCHMARKS.md, F session 67).
test: setup
	@status=0; lint_out=$$(mktemp); \
	$(MAKE) --no-print-directory test-fast || status=1; \
	$(MAKE) --no-print-directory test-parallel || status=1; \
	$(MAKE) --no-print-directory lint > $$lint_out 2>&1 & lint=$$!; \
	$(MAKE) --no-print-directory test-wallclock || status=1; \
	wait $$lint || { status=1; echo "make lint failed:" >&2; }; \
	echo "--- make lint (beside the wallclock pass)"; cat $$lint_out; rm -f $$lint_out; \
	exit $$status

# Unit and contract tests, on both cores (pytest-xdist). About 11 min near idle (4,262 tests, 664 s at load 1-6,
# session 66's clean clone; 4,064 in 362 s at load 1-3 in session 62): far more under other users' load (README.md).
test-fast: setup
	TSC_REQUIRE_SYSTEM_DEPS=1 $(PY) -m pytest -q -ra -n 2 -m "not slow"

# The RESCO networks of the corpus (docs/corpus.md): the sumo-rl 1.4.5 wheel from PyPI, sha256
# checked, extracted once into pytest's cache (.pytest_cache/d/tsc_resco/); a no-op once there.
resco: $(STAMP)
	$(PY) -m sim.scenarios.resco > /dev/null

# Whole-scenario SUMO runs, the corpus, Prometheus and Mosquitto end-to-end runs, in two passes (603 s and 298 s
# at load 1-6, session 66's clean clone; 415 s and 246 s at load 1-3 in session 62; BENCHMARKS.md, F session 63).
# `make test-slow` runs both, test-parallel and test-wallclock one each.
# First on both cores (pytest-xdist, --dist loadfile: a module stays on one worker; the corpus is
# split by network, and four long modules of one test each are handed out first: tests/conftest.py).
# Then the tests marked `wallclock` (real-time pacing, broker, failover and scrape deadlines) one at a time,
# no other test beside them (`make test` runs only lint beside them), so that the other worker's load
# cannot make them late; that pass collects only the folders that hold them (WALLCLOCK_DIRS), and the parallel
# pass only SLOW_PATHS: those folders and the unit modules that mark a test `slow` (the whole suite's
# collection took 33 s of CPU at load 35, SLOW_PATHS' 7 s, the same 199 tests: BENCHMARKS.md, F session 66;
# each worker collects; tests/unit/test_wallclock_dirs.py fails a `wallclock` or `slow` mark outside them).
# Both passes run even when the first fails. A failed RESCO fetch does not stop the other tests: the RESCO
# ones then fail with the fetch's error.
WALLCLOCK_DIRS := tests/integration tests/contract
SLOW_PATHS := $(WALLCLOCK_DIRS) tests/unit/test_coordinated_board.py tests/unit/test_replay_turnarounds.py \
	tests/unit/test_safety_properties.py tests/unit/test_validation_policy_desk.py \
	tests/unit/test_validation_policy_plans.py tests/unit/test_validation_revalidation.py
test-slow: setup
	@status=0; \
	$(MAKE) --no-print-directory test-parallel || status=1; \
	$(MAKE) --no-print-directory test-wallclock || status=1; \
	exit $$status

test-parallel: setup
	@$(MAKE) --no-print-directory resco || echo "make resco failed: the RESCO tests will fail (docs/corpus.md)" >&2
	$(PY) -m pytest -q -ra -n 2 --dist loadfile -m "slow and not wallclock" $(SLOW_PATHS)

test-wallclock: setup
	$(PY) -m pytest -q -ra -m "slow and wallclock" $(WALLCLOCK_DIRS)

# ruff (lint rules and format check) on the whole repo, mypy --strict on the packages pyproject.toml lists.
lint: setup
	@status=0; \
	$(PY) -m ruff check . || status=1; \
	$(PY) -m ruff format --check . || status=1; \
	$(PY) -m mypy || status=1; \
	exit $$status

bench: setup
	$(PY) -m sim.bench_speed

clean:
	rm -rf $(VENV) out
