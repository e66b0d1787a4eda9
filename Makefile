# netdiag.tcp — two commands for a fresh machine:  make audit   and   make test
# Every target creates what it needs (.venv, the collection link, system packages) first.

PYTHON      ?= python3.11
VENV        := .venv
# The oldest ansible-core meta/runtime.yml claims, in a venv of its own (make test-oldest).
OLDEST_VENV := .venv-2.16
BIN         := $(VENV)/bin
COLLECTION  := .ansible/collections/ansible_collections/netdiag/tcp
export ANSIBLE_LINT_SKIP_SCHEMA_UPDATE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: audit test venv install install-test system-deps lint ruff ansible-lint sanity units integration molecule bench bench-smoke clean constraints collection test-oldest

audit: install
	$(BIN)/ansible-playbook playbooks/audit.yml

test: system-deps install-test lint sanity units integration test-oldest bench-smoke molecule
	@echo "make test: all suites passed"

# --- set-up -----------------------------------------------------------------------------------------------------
$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found (Python 3.11 is needed for ansible-core 2.19)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: $(BIN)/python requirements/runtime.txt requirements/constraints.txt
	$(BIN)/pip install --quiet -r requirements/runtime.txt -c requirements/constraints.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.runtime-installed requirements/test.txt
	$(BIN)/pip install --quiet -r requirements/test.txt -c requirements/constraints.txt
	touch $@

venv: $(VENV)/.runtime-installed

# The collection is linked, not copied: edits in this checkout are live for ansible-playbook and ansible-doc.
$(COLLECTION):
	mkdir -p $(dir $(COLLECTION))
	ln -sfn ../../../.. $(COLLECTION)

install: venv $(COLLECTION)

install-test: install $(VENV)/.test-installed

system-deps:
	tools/install-system-deps.sh

# --- test suites ------------------------------------------------------------------------------------------------
lint: ruff ansible-lint

ruff: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ansible-lint: install-test
	$(BIN)/ansible-lint

sanity: install-test
	tools/ansible-test.sh sanity

units: install-test
	$(BIN)/pytest tests/unit

integration: install-test
	$(BIN)/pytest tests/integration

$(OLDEST_VENV)/.installed: requirements/oldest.txt
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found"; exit 1; }
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/pip install --quiet -r requirements/oldest.txt
	touch $@

# The unit tests and the audit from the installed tarball again, with ansible-core 2.16 (about a minute).
test-oldest: install-test $(OLDEST_VENV)/.installed
	$(OLDEST_VENV)/bin/pytest tests/unit -q
	NETDIAG_ANSIBLE_BIN=$(CURDIR)/$(OLDEST_VENV)/bin $(BIN)/pytest tests/integration/test_installed_collection.py -q

molecule: install-test
	tools/molecule-all.sh

bench: install
	$(BIN)/python bench/run_all.py

# The benchmark scripts on small tables: proves they run; goals are judged by full runs (make bench).
bench-smoke: install
	$(BIN)/python bench/run_all.py --quick

# The collection tarball from the files git tracks (galaxy.yml's build_ignore leaves out the development side).
collection: install
	tools/build-collection.sh dist

constraints:
	$(BIN)/pip freeze --exclude-editable | sed '1i # Exact pins of every package in the venv (pip freeze of runtime.txt + test.txt). Regenerate with make constraints.' > requirements/constraints.txt

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .ansible tests/output .pytest_cache .ruff_cache dist
