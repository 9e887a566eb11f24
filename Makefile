# The README's two commands are `make demo` and `make test`; the rest are for maintainers.
# Every environment installs from the committed constraints/ files (see scripts/env.sh).
SHELL := /bin/bash
.PHONY: demo test test-latest constraints docs build lint bench e2e audit clean

demo:  ## Run example_oktopost_onboarding end to end against the embedded sandbox.
	scripts/demo.sh

test:  ## The whole suite: lint, types, docs, built artifacts, pytest on every tested Airflow 3 minor.
	scripts/test.sh

test-latest:  ## The suite against the newest releases (no constraints): shows drift before users see it.
	scripts/test-latest.sh

constraints:  ## Regenerate constraints/ (about a minute), then run the whole suite on them.
	scripts/constraints.sh

docs:  ## The documentation site, warnings as errors: docs/_build/html/index.html.
	scripts/docs.sh

build:  ## sdist + wheel in dist/, checked with twine.
	scripts/build.sh

lint:
	source scripts/env.sh && v=$$(ensure_venv $$AIRFLOW_HIGH) && $$v/bin/ruff check . && $$v/bin/ruff format --check . && $$v/bin/mypy --strict

bench:  ## Benchmarks; raw results to bench/results/performance.jsonl, the page docs/performance.md from them.
	scripts/bench.sh

e2e:  ## Only the real-deployment end-to-end tests.
	source scripts/env.sh && v=$$(ensure_venv $$AIRFLOW_HIGH) && $$v/bin/python -m pytest -p no:cacheprovider -m e2e

audit:  ## pip-audit of the installed environment (needs the package index).
	scripts/audit.sh

clean:
	rm -rf .venv-af* .venv-latest-af* .pytest_cache .mypy_cache .ruff_cache build dist docs/_build docs/api
