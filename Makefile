# One-command set-up: `make book` builds the textbook, `make test` runs every test.
# Both create .venv and install what they need (Python packages from pyproject.toml,
# system packages through apt-get) on a fresh clone.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSSTAMP := $(VENV)/.sysdeps
# Offline copy of the Advertising data when the shared folder sits beside the clone.
SHARED_DATA := $(abspath ../shared/data)
export MMIDS_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/advertising.csv),$(SHARED_DATA),)
export PYTHONHASHSEED := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# System packages the tests and the book need (Debian names); python3.11(-venv): the grading
# tests run Debian's interpreter as an ordinary user (a pyenv one under /root is unreadable).
APT_PACKAGES := graphviz chromium chromium-driver bubblewrap postgresql python3.11 python3.11-venv
JB_FLAGS := -W -n --keep-going
# MathJax is served from the site itself (no CDN), so the book renders offline and in tests.
MATHJAX_VERSION := 3.2.2
MATHJAX := _vendor/mathjax/tex-mml-chtml.js

.PHONY: help install sysdeps mathjax book test lint bench report clean

help:
	@echo "make book   - install into .venv and build the textbook (_build/html)"
	@echo "make test   - install into .venv and run every test (lint, package, book, exercises, grading)"
	@echo "make bench  - performance benchmarks (ratios against the alternatives, measured in one run)"
	@echo "make report - grading tables: exercise corpora and attack corpus (the figures in the notes)"
	@echo "make lint   - ruff check"

install: $(STAMP) $(SYSSTAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip check
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# Installs missing Debian packages (needs root, as on the course machines and CI).
$(SYSSTAMP): Makefile
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

sysdeps: $(SYSSTAMP)

$(MATHJAX):
	rm -rf $(VENV)/npm _vendor/mathjax
	npm install --prefix $(VENV)/npm --no-save --no-audit --no-fund --silent mathjax@$(MATHJAX_VERSION)
	mkdir -p _vendor
	cp -r $(VENV)/npm/node_modules/mathjax/es5 _vendor/mathjax

mathjax: $(MATHJAX)

book: install $(MATHJAX)
	$(BIN)/jupyter-book build . $(JB_FLAGS)

lint: install
	$(BIN)/ruff check .

# Every test runs here: a skip (e.g. no bubblewrap or PostgreSQL) counts as a failure.
test: install lint book
	MMIDS_NO_SKIP=1 $(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

# The grading results quoted in the notes: corpus caught / false rejections, attack table.
report: install
	$(BIN)/python -m tests.corpora.report
	$(BIN)/python -m tests.attacks.report

clean:
	rm -rf _build .pytest_cache .hypothesis _vendor/mathjax
