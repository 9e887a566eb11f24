#!/usr/bin/env bash
# Build the sdist and the wheel into dist/ (the wheel from the sdist, so the sdist is proven complete) and
# check their metadata with `twine check --strict`. The build backend comes from the committed
# constraints/build-py<X.Y>.txt; SOURCE_DATE_EPOCH (the last commit's time) makes the archives reproducible.
# What the wheel contains, and that it installs and works in a clean venv, is tested by tests/packaging/.
# Usage: scripts/build.sh [VENV]   (default: the Airflow $AIRFLOW_HIGH environment)
source "$(dirname "$0")/env.sh"
cd "$REPO"

VENV="${1:-$(ensure_venv "$AIRFLOW_HIGH")}"
SOURCE_DATE_EPOCH="$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)"
export SOURCE_DATE_EPOCH
rm -rf "$REPO/dist"
if [ "${OKTOPOST_UNCONSTRAINED:-0}" = 1 ]; then
  "$VENV/bin/python" -m build --outdir "$REPO/dist" "$REPO" >&2
else
  PIP_CONSTRAINT="$(build_constraints_file)" "$VENV/bin/python" -m build --outdir "$REPO/dist" "$REPO" >&2
fi
"$VENV/bin/twine" check --strict "$REPO"/dist/*
ls -l "$REPO"/dist >&2
