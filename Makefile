# API in One Studio. `make run` serves the studio; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The suite runs on every core (pytest-xdist); TEST_WORKERS=1 runs it in one process.
TEST_WORKERS ?= auto
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint format bench lock clean setup prerequisites chromium

# What both commands need, each missing piece said in one sentence (not a traceback).
prerequisites:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) was not found: install Python 3.11 or newer, or name it with make PYTHON=python3.x."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { echo "Python 3.11 or newer is needed ($(PYTHON) is $$($(PYTHON) -c 'import platform; print(platform.python_version())')): install it, or name it with make PYTHON=python3.x."; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "Python's venv module is missing: install it (on Debian or Ubuntu: apt-get install python3-venv), then run make again."; exit 1; }

$(BIN)/python: | prerequisites
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock
	@touch $@

setup: prerequisites $(VENV)/.installed

# The browser tests drive Debian's Chromium (Playwright cannot download its own here). Installed
# with apt when it is missing and this user may install packages; otherwise one sentence says how.
chromium:
	@if [ -n "$$CHROMIUM_PATH" ]; then \
	  [ -x "$$CHROMIUM_PATH" ] || { echo "CHROMIUM_PATH is $$CHROMIUM_PATH, which is not a program: point it at a Chromium binary."; exit 1; }; \
	elif ! command -v chromium >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; \
	  else echo "The browser tests need Chromium: install it (sudo apt-get install chromium fonts-dejavu-core) or set CHROMIUM_PATH to a Chromium binary, then run make test again."; exit 1; fi; \
	  echo "== installing Debian's chromium for the browser tests (apt-get)"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null || \
	  { echo "Installing Chromium with apt-get failed (above): install it by hand or set CHROMIUM_PATH."; exit 1; }; \
	fi

# The studio hands uploads and callbacks to the upstream as links to itself.
run: export STUDIO_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
run: prerequisites $(VENV)/.installed
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo --url http://127.0.0.1:$(PORT)/
	DEBUG=$${DEBUG:-1} exec $(BIN)/python manage.py runstudio --port $(PORT)

lint: prerequisites $(VENV)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	DEBUG=1 $(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=10 $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench.usage
	$(BIN)/python -m tests.bench.chat
	$(BIN)/python -m tests.bench.downloads
	$(BIN)/python -m tests.bench.gallery
	$(BIN)/python -m tests.bench.poller
	$(BIN)/python -m tests.bench.cards

# The direct dependencies (pyproject.toml, dev included), resolved and pinned with all of theirs.
lock: | $(BIN)/python
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(VENV)/direct.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/direct.txt
	( echo '# Exact versions of every package the studio and its tests use (make installs these).'; \
	  echo '# Regenerate with: make lock'; \
	  $(BIN)/python -m pip freeze --exclude-editable ) > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
