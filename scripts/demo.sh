#!/usr/bin/env bash
# The README's demo command (make demo): example_oktopost_onboarding end to end against the sandbox.
source "$(dirname "$0")/env.sh"
VENV="$(ensure_venv "$AIRFLOW_HIGH")"
exec "$VENV/bin/python" "$REPO/scripts/demo.py"
