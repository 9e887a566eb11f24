#!/usr/bin/env bash
# The whole test suite (make test): what CI runs (.ci/run).
#   1. the environments, from the committed constraints files (scripts/env.sh), built in parallel
#   2. ruff, mypy --strict, the docs site with warnings as errors (scripts/docs.sh)
#   3. sdist + wheel built and checked (scripts/build.sh), then installed into a clean venv by
#      tests/packaging/ (the `packaging` marker)
#   4. pytest on Airflow 3.3.2: the deployment tests (-m e2e) and the tests that mostly wait on a real clock
#      (-m waits) in the background, everything else (browser and packaging tests included) in the foreground
#   5. pytest on the other environments (OKTOPOST_TEST_VERSIONS; default 3.0.0 with the lowest
#      dependencies, 3.2.2 and 3.1.8) without browser, deployment and packaging tests (3.2.2 and 3.1.8
#      also without the `heavy` ones): the first beside step 4, the others two at a time after it; then the connection-form browser test on 3.1.x
#      (OKTOPOST_BROWSER_31)
# The deployment tests spend most of their time waiting (for Oktopost's 60 calls a minute, for a scheduler
# loop): they run beside the CPU-bound suites, to keep make test within its 25-minute goal on two cores.
# Usage: scripts/test.sh [extra pytest args]
# OKTOPOST_UNCONSTRAINED=1 (make test-latest) runs the same against the newest releases instead.
source "$(dirname "$0")/env.sh"
cd "$REPO"
unset OKTOPOST_RELIABILITY_WRITER  # set below for one run only

started=$SECONDS
# The environments make test runs, besides $AIRFLOW_HIGH (everything): the suite without browser, deployment
# and packaging tests. OKTOPOST_TEST_VERSIONS="3.0.0" (space-separated) overrides.
read -r -a OTHER_VERSIONS <<<"${OKTOPOST_TEST_VERSIONS:-$AIRFLOW_LOW $AIRFLOW_32 $AIRFLOW_31}"
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

logs="$(mktemp -d)"
# On any exit (a failure, Ctrl-C), stop the background pytest runs the way Ctrl-C would (SIGINT: their
# fixtures tear the deployments and servers down), then remove the scratch files.
cleanup() {
  local pids
  pids="$(jobs -pr)"
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -INT $pids 2>/dev/null || true
    sleep 5
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
  fi
  rm -rf "$venv_dir" "$logs"
}
trap cleanup EXIT
# passed STATUS: pytest passed, or selected none of its tests (5: extra arguments such as a file path may
# select no deployment test, or only deployment tests).
passed() { [ "$1" = 0 ] || [ "$1" = 5 ]; }
# show_log NAME STATUS: print a background run's output once it has finished.
show_log() {
  log "Output of $1 (exit status $2)"
  cat "$logs/$1.log"
}

log "pytest on Airflow $AIRFLOW_HIGH: deployment tests and clock-bound tests (-m \"e2e or waits\") in the background; output when they finish"
"$HIGH/bin/python" -m pytest -p no:cacheprovider -m "e2e or waits" "$@" >"$logs/e2e-$AIRFLOW_HIGH.log" 2>&1 &
e2e_pid=$!

# The other environments (each pytest has its own AIRFLOW_HOME, sandbox ports and stores): the first one
# beside the 3.3.2 run below, the rest two at a time once it has finished.
failed=()
declare -A RUNNING=()
start_suite() {
  local version="$1"
  shift
  # The `heavy` tests (many real processes; their logic does not depend on the Airflow minor) run on the
  # newest Airflow and on the lowest one (the lowest dependencies) only.
  local marks="not browser and not e2e and not packaging" what="browser, deployment and packaging tests"
  if [ "$version" != "$AIRFLOW_LOW" ]; then marks="$marks and not heavy" what="$what and heavy tests"; fi
  log "pytest on Airflow $version ($(flavour "$version") dependencies), without $what (in the background)"
  "${VENV[$version]}/bin/python" -m pytest -p no:cacheprovider -m "$marks" \
    "$@" >"$logs/suite-$version.log" 2>&1 &
  RUNNING[$!]="$version"
}
finish_one() {  # wait for any running suite, print its output, record a failure
  local pid status=0
  wait -n -p pid "${!RUNNING[@]}" || status=$?
  show_log "suite-${RUNNING[$pid]}" "$status"
  passed "$status" || failed+=("${RUNNING[$pid]}")
  unset "RUNNING[$pid]"
}
if [ "${#OTHER_VERSIONS[@]}" -gt 0 ]; then start_suite "${OTHER_VERSIONS[0]}" "$@"; fi

log "pytest on Airflow $AIRFLOW_HIGH: everything but the deployment and clock-bound tests (browser and packaging included)"
# This run, and no other, writes docs/reliability-results.md (tests/reliability/conftest.py): the variable
# lists the environments of this make test, the writer first. make test-latest writes nothing.
writer_envs=""
if [ "${OKTOPOST_UNCONSTRAINED:-0}" != 1 ]; then
  for version in "$AIRFLOW_HIGH" "${OTHER_VERSIONS[@]}"; do
    writer_envs+="${writer_envs:+, }$version ($(flavour "$version") dependencies)"
  done
fi
status=0
OKTOPOST_RELIABILITY_WRITER="$writer_envs" "$HIGH/bin/python" -m pytest -p no:cacheprovider -m "not e2e and not waits" "$@" \
  || status=$?
passed "$status" || failed+=("$AIRFLOW_HIGH")

for version in "${OTHER_VERSIONS[@]:1}"; do
  [ "${#RUNNING[@]}" -lt 2 ] || finish_one
  start_suite "$version" "$@"
done
while [ "${#RUNNING[@]}" -gt 0 ]; do finish_one; done

status=0
wait "$e2e_pid" || status=$?
show_log "e2e-$AIRFLOW_HIGH" "$status"
passed "$status" || failed+=("$AIRFLOW_HIGH (deployment tests)")
[ "${#failed[@]}" = 0 ] || die "the suite failed on Airflow ${failed[*]} (output above)"

if [ -n "$BROWSER_31" ]; then
  log "browser test of the connection form on Airflow $BROWSER_31 (the hook's form widgets)"
  status=0
  "${VENV[$BROWSER_31]}/bin/python" -m pytest -p no:cacheprovider -m browser "$@" || status=$?
  passed "$status" || die "the browser test failed on Airflow $BROWSER_31 (output above)"
fi

log "All checks passed on Airflow ${BUILD_VERSIONS[*]} in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
