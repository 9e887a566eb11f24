#!/usr/bin/env bash
# The documentation site (make docs): Sphinx + MyST + autodoc from docs/ and the docstrings, into
# docs/_build/html. Warnings are errors (-W --keep-going lists them all first): a broken reference, a page
# missing from the table of contents or a public name without a docstring fails the build.
# Usage: scripts/docs.sh [VENV]   (default: the Airflow $AIRFLOW_HIGH environment)
source "$(dirname "$0")/env.sh"
cd "$REPO"

VENV="${1:-$(ensure_venv "$AIRFLOW_HIGH")}"
home="$(mktemp -d)"  # autodoc imports Airflow: never touch the user's AIRFLOW_HOME
trap 'rm -rf "$home"' EXIT
rm -rf "$REPO/docs/_build"
AIRFLOW_HOME="$home" AIRFLOW__CORE__LOAD_EXAMPLES=False \
  "$VENV/bin/sphinx-build" -W --keep-going -q -b html "$REPO/docs" "$REPO/docs/_build/html"
log "Docs site: docs/_build/html/index.html"
