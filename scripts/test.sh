#!/usr/bin/env bash
# The whole test suite: lint and type checks, then pytest on the lowest and the latest supported Airflow.
# Usage: scripts/test.sh [extra pytest args]    (make test)
source "$(dirname "$0")/env.sh"
cd "$REPO"

HIGH_VENV="$(ensure_venv "$AIRFLOW_HIGH")"
LOW_VENV="$(ensure_venv "$AIRFLOW_LOW" "${LOW_PINS[@]}")"
ensure_chromium

log "ruff"
"$HIGH_VENV/bin/ruff" check .
"$HIGH_VENV/bin/ruff" format --check .
log "mypy --strict"
"$HIGH_VENV/bin/mypy" --strict

log "pytest on Airflow $AIRFLOW_HIGH (everything, browser and deployment tests included)"
"$HIGH_VENV/bin/python" -m pytest -p no:cacheprovider "$@"

log "pytest on Airflow $AIRFLOW_LOW with the lowest supported dependencies (${LOW_PINS[*]})"
"$LOW_VENV/bin/python" -m pytest -p no:cacheprovider -m "not browser and not e2e" "$@"

log "All checks passed on Airflow $AIRFLOW_HIGH and $AIRFLOW_LOW"
