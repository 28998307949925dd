# One-command set-up: `make book` builds the textbook, `make test` runs every test.
# Both create .venv and install what they need, and only that, on a fresh clone: `make book` the
# book's Python packages (extra `book`) and graphviz; `make test` everything (extra `dev`, the
# browser, sandbox, database and Node for the axe-core audit). Stamps in .venv make a second
# run skip the installs.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BOOK_STAMP := $(VENV)/.installed-book
SYSSTAMP := $(VENV)/.sysdeps
BOOK_SYSSTAMP := $(VENV)/.sysdeps-book
# Offline copy of the Advertising data when the shared folder sits beside the clone.
SHARED_DATA := $(abspath ../shared/data)
export MMIDS_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/advertising.csv),$(SHARED_DATA),)
export PYTHONHASHSEED := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# System packages (Debian names): the book needs graphviz (`dot` draws the computational graphs);
# the tests need everything. Node and npm (for axe-core) are added to the test list only when
# there is no `npm` command (a NodeSource nodejs brings its own npm and conflicts with Debian's).
BOOK_APT_PACKAGES := graphviz
APT_PACKAGES := graphviz chromium chromium-driver bubblewrap postgresql
NODE_APT_PACKAGES := nodejs npm
JB_FLAGS := -W -n --keep-going
# The accessibility audit of the built pages (tests/site_check.py) injects axe-core's axe.min.js.
AXE_VERSION := 4.14.1
AXE_STAMP := $(VENV)/axe/.axe-core-$(AXE_VERSION)

.PHONY: help install install-book sysdeps axe book test lint bench report clean

help:
	@echo "make book   - install the book's packages (Python extra book, graphviz) and build it (_build/html)"
	@echo "make test   - install everything and run every test (lint, package, book + browser, exercises, grading)"
	@echo "make bench  - performance benchmarks (ratios against the alternatives, measured in one run)"
	@echo "make report - grading tables: exercise corpora and attack corpus (the figures in the notes)"
	@echo "make lint   - ruff check"

install: $(STAMP) $(SYSSTAMP)

install-book: $(BOOK_STAMP) $(BOOK_SYSSTAMP)

# $(call pip-install,<extra>): .venv with the package (editable) and that extra's pinned deps.
define pip-install
test -d $(VENV) || $(PYTHON) -m venv $(VENV)
$(BIN)/pip install --quiet --upgrade pip
$(BIN)/pip install --quiet -e '.[$(1)]'
$(BIN)/pip check
$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
endef

# Everything; the book's packages are a subset of it, so its stamp is renewed too.
$(STAMP): pyproject.toml
	$(call pip-install,dev)
	touch $@ $(BOOK_STAMP)

$(BOOK_STAMP): pyproject.toml
	$(call pip-install,book)
	touch $@

# $(call apt-install,<packages>): installs the missing ones (needs root or sudo, as on the course
# machines and CI).
define apt-install
@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

$(SYSSTAMP): Makefile
	$(call apt-install,$(APT_PACKAGES) $(if $(shell command -v npm),,$(NODE_APT_PACKAGES)))
	@mkdir -p $(VENV) && touch $@ $(BOOK_SYSSTAMP)

$(BOOK_SYSSTAMP): Makefile
	$(call apt-install,$(BOOK_APT_PACKAGES))
	@mkdir -p $(VENV) && touch $@

sysdeps: $(SYSSTAMP)

# axe-core from the npm registry, pinned; tests/site_check.py finds it in .venv/axe.
$(AXE_STAMP): | $(SYSSTAMP)
	rm -rf $(VENV)/axe
	npm install --prefix $(VENV)/axe --no-save --no-audit --no-fund --silent axe-core@$(AXE_VERSION)
	touch $@

axe: $(AXE_STAMP)

book: install-book
	$(BIN)/jupyter-book build . $(JB_FLAGS)

lint: install
	$(BIN)/ruff check .

# Every test runs here: a skip (e.g. no bubblewrap or PostgreSQL) counts as a failure.
test: install axe lint book
	MMIDS_NO_SKIP=1 $(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

# The grading results quoted in the notes: corpus caught / false rejections, attack table.
report: install
	$(BIN)/python -m tests.corpora.report
	$(BIN)/python -m tests.attacks.report

clean:
	rm -rf _build .pytest_cache .hypothesis _vendor/mathjax
