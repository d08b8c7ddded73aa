# sesame — the README's commands. Every target bootstraps .venv itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: local test lint typecheck unit functional infra browser bench package rehearse venv clean

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade 'pip>=23,<26.3'  # chalice 1.34 packages with pip<26.3
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## make venv: only the virtualenv (Pulumi.yaml points the Pulumi CLI at it).
venv: $(STAMP)

## make local: run all of sesame on moto_server + chalice local, run the demo campaign, print the report.
local: $(STAMP)
	$(PY) -m runtime.local $(ARGS)

## make test: lint, type-check and the whole test suite.
test: lint typecheck
	$(PY) -m pytest -n 2 --dist loadfile tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit
functional: $(STAMP)
	$(PY) -m pytest tests/functional
infra: $(STAMP)
	$(PY) -m pytest tests/infra
## make browser: the dashboard in headless Chromium (apt-get install -y chromium); screenshots in test-artifacts/.
browser: $(STAMP)
	$(PY) -m pytest tests/browser

## make bench: prints one JSON object of figures.
bench: $(STAMP)
	@$(PY) -m bench

## make package: the Lambda deployment package (runtime/ vendored in) into out/lambda, when the sources changed.
## (`pulumi up` does the same itself; this builds it ahead, e.g. in CI.)
package: $(STAMP)
	$(PY) -m runtime.packaging

## make rehearse: the documented two-region deployment against moto_server on 127.0.0.1 (twice, then from a
## second clone, then the teardown), with checks of what got deployed; prints one JSON report.
rehearse: $(STAMP)
	$(PY) -m infra.rehearsal

clean:
	rm -rf $(VENV) out chalice_app/vendor .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
