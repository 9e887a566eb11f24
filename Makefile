# The README's two commands are `make demo` and `make test`; the rest are for maintainers.
SHELL := /bin/bash
.PHONY: demo test lint bench e2e audit clean

demo:  ## Run example_oktopost_onboarding end to end against the embedded sandbox.
	scripts/demo.sh

test:  ## The whole suite (lint, types, pytest on the lowest and latest Airflow 3).
	scripts/test.sh

lint:
	source scripts/env.sh && v=$$(ensure_venv $$AIRFLOW_HIGH) && $$v/bin/ruff check . && $$v/bin/ruff format --check . && $$v/bin/mypy --strict

bench:  ## Benchmarks; results go to docs/performance.md.
	scripts/bench.sh

e2e:  ## Only the real-deployment end-to-end tests.
	source scripts/env.sh && v=$$(ensure_venv $$AIRFLOW_HIGH) && $$v/bin/python -m pytest -p no:cacheprovider -m e2e

audit:  ## pip-audit of the installed environment (needs the package index).
	scripts/audit.sh

clean:
	rm -rf .venv-af* .pytest_cache .mypy_cache .ruff_cache build dist
