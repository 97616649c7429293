# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv from the pinned requirements (once) and makes sure a Docker engine answers;
# `make test` adds the frameworks' host packages (requirements/frameworks.txt) for their tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEMPLATE := {{cookiecutter.project_slug}}
REQUIREMENTS := requirements/host.txt requirements/dev.txt $(TEMPLATE)/requirements-tools.txt $(TEMPLATE)/server/requirements.txt
# Parallel: container builds wait on the engine, so 3 workers beat 2 on 2 cores; tests that
# share a session fixture stay together (tests/conftest.py sets their xdist groups).
PYTEST_ARGS ?= -n 3 --dist loadgroup

.PHONY: demo test lint engine bench clean

demo: $(VENV)/.installed engine ## bake, build, smoke-test, push, pull back by digest, answer
	$(BIN)/invoke demo

test: $(VENV)/.installed $(VENV)/.frameworks engine ## the whole test suite (Docker tests included)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed ## ruff over the repo and the template's plain-Python folders
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed engine ## server and build benchmarks; figures go to BENCHMARKS.md
	$(BIN)/invoke bench --write

engine: ## a Docker engine, docker-registry, htpasswd and debootstrap (installs on Debian as root)
	@bash scripts/bootstrap.sh

$(VENV)/.installed: $(REQUIREMENTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

$(VENV)/.frameworks: $(VENV)/.installed requirements/frameworks.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/frameworks.txt
	touch $@

clean: ## remove the venv and caches (images and the wheel cache stay)
	rm -rf $(VENV) .pytest_cache .ruff_cache
