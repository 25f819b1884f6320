# Two commands set everything up on a fresh machine:
#   make run   - create .venv, install mdrive, run the main job (a ramp on the built-in demo set, 2 MPI ranks)
#   make test  - create .venv, install mdrive with its test extras, run the tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/mpirun -np 2 $(BIN)/python -m mdrive ramp --out mdrive-ramp --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) mdrive-ramp .pytest_cache
