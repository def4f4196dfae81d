# Two commands on a fresh machine:  make demo   |   make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps demo test bench clean

setup: $(STAMP) system-deps

# Python packages into a venv; re-run when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages: Mosquitto (the broker) and Prometheus (monitoring tests).
system-deps:
	@bash scripts/install-system-deps.sh

demo: setup
	$(PY) -m sim.demo

test: setup
	$(PY) -m pytest -q -ra

bench: setup
	$(PY) -m sim.bench_speed

clean:
	rm -rf $(VENV) out
