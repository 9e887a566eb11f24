#!/usr/bin/env bash
# The suite against the newest releases (make test-latest): no constraints files, the newest Airflow 3 on
# PyPI as the high end, the newest release of every dependency pyproject.toml allows. Not part of
# `make test`: run it (e.g. weekly in CI) to see drift before users do; when it passes, `make constraints`
# moves the committed files forward. Environments go to .venv-latest-af<version>, rebuilt once a day.
# Usage: scripts/test-latest.sh [extra pytest args]
source "$(dirname "$0")/env.sh"
cd "$REPO"

newest="$("$PYTHON_BIN" -m pip index versions apache-airflow 2>/dev/null \
  | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' | grep -E '^3\.[0-9]+\.[0-9]+$' | head -1)"
[ -n "$newest" ] || die "could not read apache-airflow's versions from the package index"
log "Newest Airflow 3 on the index: $newest (tested high end: $AIRFLOW_HIGH)"
OKTOPOST_UNCONSTRAINED=1 OKTOPOST_AIRFLOW_HIGH="$newest" exec "$REPO/scripts/test.sh" "$@"
