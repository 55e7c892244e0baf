# `make demo` and `make test` set everything up on a fresh Debian 12 machine with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: demo test lint clean

$(READY): pyproject.toml scripts/system-deps.sh
	./scripts/system-deps.sh $(PYTHON)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(READY)

demo: $(READY)
	$(BIN)/mailmerge demo --out demo-output

test: $(READY)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) preview demo-output .pytest_cache
