# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make run    install into .venv, then crawl the sources in config.yaml into ./morgue-data
#   make test   install into .venv (with test tools), then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/morgue --config config.yaml crawl

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check scraper archive tests bench
	$(BIN)/ruff format --check scraper archive tests bench
	$(BIN)/mypy

check: lint test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
