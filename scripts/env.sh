# Shared by the test and demo commands: make (or reuse) a virtual environment with a given Airflow version
# and this package installed editable with its test extras. Sourced, not run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON_BIN="${PYTHON:-python3}"
AIRFLOW_LOW="${OKTOPOST_AIRFLOW_LOW:-3.0.0}"
AIRFLOW_HIGH="${OKTOPOST_AIRFLOW_HIGH:-3.3.2}"
# The low-end environment also gets the lowest versions pyproject.toml allows for our other direct
# dependencies, so the declared ranges are tested at both ends, not only Airflow's.
LOW_PINS=("apache-airflow-providers-common-compat==1.23.0" "requests==2.31.0" "pendulum==3.0.0")

log() { printf '\n==> %s\n' "$*" >&2; }

# ensure_venv VERSION [PIN...] -> prints the venv's directory. Rebuilt only when the Airflow version, the pins
# or pyproject.toml changed, so repeated runs take seconds.
ensure_venv() {
  local version="$1" dir="$REPO/.venv-af$1" stamp
  shift
  stamp="$version $* $(sha256sum "$REPO/pyproject.toml" | cut -c1-16) $("$PYTHON_BIN" -c 'import sys; print(sys.version.split()[0])')"
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "Creating $dir (apache-airflow==$version)"
    rm -rf "$dir"
    "$PYTHON_BIN" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --upgrade pip >&2
    "$dir/bin/python" -m pip install --quiet "apache-airflow==$version" "$@" -e "$REPO[test]" >&2
    echo "$stamp" > "$dir/.stamp"
  fi
  echo "$dir"
}

# The browser tests drive Debian's Chromium; install it when missing (needs root, as on CI).
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  log "Installing Debian's chromium for the browser tests"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
}
