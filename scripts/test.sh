#!/usr/bin/env bash
# The whole test suite (make test): what CI runs (.ci/run).
#   1. the environments, from the committed constraints files (scripts/env.sh), built in parallel
#   2. ruff, mypy --strict, the docs site with warnings as errors (scripts/docs.sh)
#   3. sdist + wheel built and checked (scripts/build.sh), then installed into a clean venv by
#      tests/packaging/ (the `packaging` marker)
#   4. pytest on Airflow 3.3.2 (everything: browser, deployment and packaging tests included)
#   5. pytest on the other environments side by side (OKTOPOST_TEST_VERSIONS; default 3.0.0 with the
#      lowest dependencies) without browser, deployment and packaging tests, then the connection-form
#      browser test on 3.1.x (OKTOPOST_BROWSER_31)
# Usage: scripts/test.sh [extra pytest args]
# OKTOPOST_UNCONSTRAINED=1 (make test-latest) runs the same against the newest releases instead.
source "$(dirname "$0")/env.sh"
cd "$REPO"

started=$SECONDS
# The environments make test runs, besides $AIRFLOW_HIGH (everything): the suite without browser, deployment
# and packaging tests. OKTOPOST_TEST_VERSIONS="3.2.2 3.1.8 3.0.0" overrides (space-separated).
# 3.1.8 and 3.2.2 are not in the default yet: the whole suite has not passed on them within this release's
# deadline (3.2.2: Airflow's in-process execution API fails in dag.test, see the CHANGELOG's known
# limitations). Their constraints files are kept: OKTOPOST_TEST_VERSIONS="3.1.8 3.0.0" runs 3.1.8 too.
read -r -a OTHER_VERSIONS <<<"${OKTOPOST_TEST_VERSIONS:-$AIRFLOW_LOW}"
# The connection-form browser test (the hook-widget form of 3.0/3.1) also runs on this one (empty: skipped).
BROWSER_31="${OKTOPOST_BROWSER_31-$AIRFLOW_31}"
BUILD_VERSIONS=("$AIRFLOW_HIGH" "${OTHER_VERSIONS[@]}")
if [ -n "$BROWSER_31" ] && [[ " ${BUILD_VERSIONS[*]} " != *" $BROWSER_31 "* ]]; then
  BUILD_VERSIONS+=("$BROWSER_31")
fi
declare -A VENV
# Build the environments in parallel (each prints its directory; failures are reported with their log).
venv_dir="$(mktemp -d)"
trap 'rm -rf "$venv_dir"' EXIT
pids=()
for version in "${BUILD_VERSIONS[@]}"; do
  (ensure_venv "$version" >"$venv_dir/$version") 2>"$venv_dir/$version.log" &
  pids+=($!)
done
ensure_system_deps
failed=0
for i in "${!pids[@]}"; do
  version="${BUILD_VERSIONS[$i]}"
  if wait "${pids[$i]}"; then
    VENV[$version]="$(cat "$venv_dir/$version")"
    grep -v "is ignored: it is neither a file nor a directory" "$venv_dir/$version.log" >&2 || true
  else
    cat "$venv_dir/$version.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || die "could not build every environment (see above)"
HIGH="${VENV[$AIRFLOW_HIGH]}"

log "ruff"
"$HIGH/bin/ruff" check .
"$HIGH/bin/ruff" format --check .
log "mypy --strict"
"$HIGH/bin/mypy" --strict

log "docs site (Sphinx, warnings are errors)"
"$REPO/scripts/docs.sh" "$HIGH"

log "sdist and wheel (build, twine check)"
"$REPO/scripts/build.sh" "$HIGH"
export OKTOPOST_DIST_DIR="$REPO/dist"

log "pytest on Airflow $AIRFLOW_HIGH (everything: browser, deployment and packaging tests included)"
"$HIGH/bin/python" -m pytest -p no:cacheprovider "$@"

# The other environments run side by side (one pytest per core; each has its own AIRFLOW_HOME and sandbox
# ports); their output is printed as each finishes.
other_suite() {
  local version="$1"
  shift
  "${VENV[$version]}/bin/python" -m pytest -p no:cacheprovider -m "not browser and not e2e and not packaging" "$@"
}
logs="$(mktemp -d)"
pids=()
for version in "${OTHER_VERSIONS[@]}"; do
  log "pytest on Airflow $version ($(flavour "$version") dependencies), without browser, deployment and packaging tests (in the background)"
  other_suite "$version" "$@" >"$logs/$version.log" 2>&1 &
  pids+=($!)
done
failed=()
for i in "${!pids[@]}"; do
  version="${OTHER_VERSIONS[$i]}"
  status=0
  wait "${pids[$i]}" || status=$?
  log "Output of the suite on Airflow $version (exit status $status)"
  cat "$logs/$version.log"
  [ "$status" = 0 ] || failed+=("$version")
done
rm -rf "$logs"
[ "${#failed[@]}" = 0 ] || die "the suite failed on Airflow ${failed[*]} (output above)"

if [ -n "$BROWSER_31" ]; then
  log "browser test of the connection form on Airflow $BROWSER_31 (the hook's form widgets)"
  "${VENV[$BROWSER_31]}/bin/python" -m pytest -p no:cacheprovider -m browser "$@"
fi

log "All checks passed on Airflow ${BUILD_VERSIONS[*]} in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
