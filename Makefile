# Every target sets up what it needs: a fresh clone only needs `make demo` or `make test`.
# PYTHON is tried first; if it is missing or unusable (e.g. a pyenv shim for a
# version that isn't active), plain python3 is used instead.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := test,amazon-ses,postal,resend,sendgrid,uts46

# Second environment: Python 3.12 with the newest Django (see test-newest).
NEWEST_VENV ?= .venv-django-newest

.PHONY: demo test test-newest lint docs bench ci clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m example.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Runs the test suite under Python 3.12 with the newest Django release.
# Looks for python3.12 on PATH (it must actually run: a pyenv shim for an
# inactive version doesn't count), then in pyenv's versions directory.
# Without a Python 3.12 it prints a note and succeeds.
test-newest:
	@py=""; \
	if python3.12 -c "" >/dev/null 2>&1; then py=python3.12; \
	else \
	  for c in $$(pyenv root 2>/dev/null)/versions/3.12*/bin/python3.12; do \
	    if [ -x "$$c" ] && "$$c" -c "" >/dev/null 2>&1; then py="$$c"; fi; \
	  done; \
	fi; \
	if [ -z "$$py" ]; then \
	  echo "NOTE: no Python 3.12 interpreter found; skipping the newest-Django test run."; \
	  exit 0; \
	fi; \
	set -e; \
	echo "Using $$py ($$("$$py" --version 2>&1))"; \
	if [ ! -x $(NEWEST_VENV)/bin/python ]; then \
	  "$$py" -m venv --clear $(NEWEST_VENV); \
	  echo '*' > $(NEWEST_VENV)/.gitignore; \
	fi; \
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade pip; \
	$(NEWEST_VENV)/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"; \
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade "django>=6.1"; \
	echo "Django $$($(NEWEST_VENV)/bin/python -m django --version)"; \
	$(NEWEST_VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python -m bench.run

ci: lint docs test demo test-newest

clean:
	rm -rf $(VENV) $(NEWEST_VENV) docs/_build .pytest_cache
