# API in One Studio. `make run` serves the studio; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint format bench lock clean setup

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.x" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock
	@touch $@

setup: $(VENV)/.installed

# The studio hands uploads and callbacks to the upstream as links to itself.
run: export STUDIO_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.installed
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo --url http://127.0.0.1:$(PORT)/
	DEBUG=$${DEBUG:-1} exec $(BIN)/python manage.py runstudio --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench.usage

lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip uninstall --quiet -y apiinone-studio
	( echo '# Exact versions of every package the studio and its tests use (make installs these).'; \
	  echo '# Regenerate with: make lock'; \
	  $(BIN)/python -m pip freeze --exclude-editable ) > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
