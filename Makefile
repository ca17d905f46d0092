# wxapp — the two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements-sms.txt requirements-face.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# `make run PORT=5001` serves on another port; links and the sandbox's API follow (PUBLIC_BASE_URL).
# scripts/dev-run starts the scheduler process beside the app and stops it with the app.
PORT ?= 5000
run: install
	@scripts/ensure-redis
	$(FLASK) db upgrade
	$(FLASK) demo load
	WXAPP_ENV=development PORT=$(PORT) FLASK="$(FLASK)" scripts/dev-run

# Two workers by default (CI's machine has 2 cores); TEST_WORKERS=0 runs in one process.
# The checks of pyproject.toml first: lint and import order everywhere, strict types in services/ and handlers/.
TEST_WORKERS ?= 2
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

clean:
	rm -rf $(VENV) .pytest_cache
