# Shared by the test, demo and constraints commands. Sourced, not run.
#
# Every tested environment is an Airflow version with either the latest or the lowest dependencies we
# support, installed from a committed constraints file, the way Airflow itself is installed:
#     pip install -c constraints/<env>-py<X.Y>.txt apache-airflow==<version> -e .[<every extra>]
# The file pins every distribution in the environment. ensure_venv FAILS (it never resolves silently)
# when pyproject.toml asks for something the file does not pin or pins at a version that does not satisfy
# it: regenerate the files with `make constraints` (scripts/constraints.sh) and commit them.
#
# To add a system service a test needs (Chromium, Redis, ...): write an ensure_<thing> function below and
# call it from ensure_system_deps. New Python dependencies need no change here: add them to pyproject.toml
# (every optional extra is installed in every environment) and run `make constraints`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON_BIN="${PYTHON:-python3}"
PY_XY="$("$PYTHON_BIN" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
CONSTRAINTS_DIR="$REPO/constraints"

AIRFLOW_LOW="${OKTOPOST_AIRFLOW_LOW:-3.0.0}"
AIRFLOW_31="${OKTOPOST_AIRFLOW_31:-3.1.8}"
AIRFLOW_32="${OKTOPOST_AIRFLOW_32:-3.2.2}"
AIRFLOW_HIGH="${OKTOPOST_AIRFLOW_HIGH:-3.3.2}"
# Every tested Airflow version; the lowest gets the lowest dependencies, the others the latest.
AIRFLOW_VERSIONS=("$AIRFLOW_HIGH" "$AIRFLOW_32" "$AIRFLOW_31" "$AIRFLOW_LOW")
# The low-end environment also gets the lowest versions pyproject.toml allows for our other direct
# dependencies, so the declared ranges are tested at both ends, not only Airflow's.
LOW_PINS=("apache-airflow-providers-common-compat==1.23.0" "requests==2.31.0" "pendulum==3.0.0")
# Airflow 3.2.x declares no upper bounds for two libraries whose later releases break it; Airflow 3.3 caps
# or works around both. FastAPI >= 0.137 rejects 3.2's TITerminalStatePayload union (a PydanticUserError
# when the execution API starts). svcs >= 26 detaches the registry from app.state when the lifespan ends,
# and 3.2's in-process execution API (dag.test) ends it as soon as its InProcessExecutionAPI object is
# dropped, so every task of a dag.test fails with "'State' object has no attribute 'svcs_registry'"
# (3.3 ties the lifespan to the transport instead). Newer 3.2 patch releases may need the same caps.
AIRFLOW_32_CAPS=("fastapi<0.137" "svcs<26")

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# Every optional extra of pyproject.toml, comma-separated: the test environments install all of them.
all_extras() {
  "$PYTHON_BIN" - "$REPO/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(",".join(sorted(tomllib.load(f)["project"].get("optional-dependencies", {}))))
PY
}

# flavour VERSION -> "lowest" for the low-end Airflow, "latest" otherwise.
flavour() { if [ "$1" = "$AIRFLOW_LOW" ]; then echo lowest; else echo latest; fi; }

# The requirements of one environment besides the package itself (the lowest one adds LOW_PINS, 3.2.x
# AIRFLOW_32_CAPS).
env_requirements() {
  echo "apache-airflow==$1"
  if [ "$(flavour "$1")" = lowest ]; then printf '%s\n' "${LOW_PINS[@]}"; fi
  if [[ "$1" == 3.2.* ]]; then printf '%s\n' "${AIRFLOW_32_CAPS[@]}"; fi
}

# constraints_file VERSION -> constraints/af<version>-<flavour>-py<X.Y>.txt
constraints_file() { echo "$CONSTRAINTS_DIR/af$1-$(flavour "$1")-py$PY_XY.txt"; }
# Pins for the build backend (hatchling), used by pip's build isolation and by `python -m build`.
build_constraints_file() { echo "$CONSTRAINTS_DIR/build-py$PY_XY.txt"; }

# check_constraints VENV FILE: every installed distribution must be pinned in FILE at the installed
# version. Catches a dependency added to pyproject.toml after the file was generated (pip's -c only
# restricts what a file lists, so without this check pip would resolve the newcomer freely).
check_constraints() {
  "$1/bin/python" - "$2" <<'PY'
import re, sys
from importlib.metadata import distributions

def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

pins = {}
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if line:
        name, _, ver = line.partition("==")
        pins[norm(name)] = ver.strip()
ignored = {"pip", "setuptools", "wheel", "airflow-provider-oktopost"}
bad = []
for dist in distributions():
    name = norm(dist.metadata["Name"])
    if name in ignored:
        continue
    if name not in pins:
        bad.append(f"  {name} {dist.version}: not pinned")
    elif pins[name] != dist.version:
        bad.append(f"  {name} {dist.version}: pinned at {pins[name]}")
if bad:
    sys.exit(f"{sys.argv[1]} does not pin this environment:\n" + "\n".join(sorted(set(bad))))
PY
}

# install_hash [FILE...]: what an install depends on: pyproject's [project] and [build-system] tables
# (dependencies, extras, entry points; not the [tool.*] settings, which need no reinstall) and FILEs.
install_hash() {
  {
    "$PYTHON_BIN" - "$REPO/pyproject.toml" <<'PY'
import json, sys, tomllib
with open(sys.argv[1], "rb") as f:
    data = tomllib.load(f)
print(json.dumps([data["project"], data["build-system"]], sort_keys=True))
PY
    cat "$@"
  } | sha256sum | cut -c1-16
}

# ensure_venv VERSION -> prints the venv's directory (.venv-af<version>), built from the environment's
# constraints file. Rebuilt only when the Airflow version, pyproject's [project] table, the constraints
# file or the Python changed, so repeated runs take seconds. OKTOPOST_UNCONSTRAINED=1 (make test-latest)
# resolves the newest releases instead, in .venv-latest-af<version>, and checks nothing against the files.
ensure_venv() {
  local version="$1" dir="$REPO/.venv-af$1" file stamp extras
  file="$(constraints_file "$version")"
  extras="$(all_extras)"
  local -a reqs pipc
  mapfile -t reqs < <(env_requirements "$version")
  if [ "${OKTOPOST_UNCONSTRAINED:-0}" = 1 ]; then
    dir="$REPO/.venv-latest-af$version"
    pipc=()
    stamp="unconstrained $version ${reqs[*]} $(install_hash) $PY_XY $(date +%F)"
  else
    [ -f "$file" ] || die "no constraints file $file for Airflow $version on Python $PY_XY: run 'make constraints'"
    pipc=(-c "$file" --build-constraint "$(build_constraints_file)")
    stamp="$version ${reqs[*]} $(install_hash "$file") $PY_XY"
  fi
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "Creating $dir (apache-airflow==$version, extras [$extras]${pipc:+, constraints ${file#"$REPO/"}})"
    rm -rf "$dir"
    "$PYTHON_BIN" -m venv "$dir"
    # The venv's own pip may predate --build-constraint: upgrade it first, to the pinned version.
    "$dir/bin/python" -m pip install --quiet "${pipc[@]:0:2}" --upgrade pip >&2
    if ! "$dir/bin/python" -m pip install --quiet "${pipc[@]}" "${reqs[@]}" -e "$REPO[$extras]" >&2; then
      rm -rf "$dir"
      die "pip could not install pyproject.toml's dependencies${pipc:+ within ${file#"$REPO/"}}; if you changed dependencies, run 'make constraints'"
    fi
    if [ "${#pipc[@]}" -gt 0 ] && ! check_constraints "$dir" "$file" >&2; then
      rm -rf "$dir"
      die "${file#"$REPO/"} is stale (pyproject.toml changed): run 'make constraints' and commit constraints/"
    fi
    echo "$stamp" > "$dir/.stamp"
  fi
  echo "$dir"
}

# ---- system services the tests need (CI runs on a fresh machine) -----------------------------------

apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  flock /tmp/apt.lock $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock $sudo apt-get install -y -qq "$@" >&2
}

# The browser tests drive Debian's Chromium; install it when missing (needs root, as on CI).
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  log "Installing Debian's chromium for the browser tests"
  apt_install chromium
}

# Everything the whole suite needs outside Python. Add one line per ensure_<thing>.
ensure_system_deps() {
  ensure_chromium
  ensure_redis
}

# The shared-budget tests start their own Debian redis-server (a real server, as deployments run one);
# install it when missing. apt runs under /tmp/apt.lock: other sessions may be installing at the same time.
ensure_redis() {
  if command -v redis-server >/dev/null 2>&1; then return 0; fi
  log "Installing Debian's redis-server for the shared-budget tests"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  flock /tmp/apt.lock $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock $sudo apt-get install -y -qq redis-server >&2
}
