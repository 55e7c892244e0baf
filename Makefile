# `make demo` and `make test` set everything up on a fresh Debian 12 machine with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: demo test lint clean messages screenshots bench

CATALOGS := $(wildcard mailmerge/locale/*/LC_MESSAGES/mailmerge.po)

$(READY): pyproject.toml hatch_build.py scripts/system-deps.sh $(CATALOGS)
	./scripts/system-deps.sh $(PYTHON)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(READY)

demo: $(READY)
	$(BIN)/mailmerge demo --out demo-output

# Side by side with awdeorio mailmerge, raw aiosmtplib and a naive baseline (issue 11): see bench/bench.py.
bench: $(READY)
	$(BIN)/python bench/bench.py

test: $(READY)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# After changing messages in the code: refresh the template and every catalog, then translate what is new.
messages: $(READY)
	$(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-by-file -w 110 -c TRANSLATORS: \
		--project=mailmerge --copyright-holder="" -o mailmerge/locale/mailmerge.pot .
	$(BIN)/pybabel update -i mailmerge/locale/mailmerge.pot -d mailmerge/locale -D mailmerge -w 110 --init-missing --ignore-obsolete -l vi

# The pictures of the user guide (docs/images/*.png), from real runs in Vietnamese against a local SMTP server.
screenshots: $(READY)
	$(BIN)/python scripts/screenshots.py

lint: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) preview demo-output .pytest_cache
