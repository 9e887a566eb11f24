#!/usr/bin/env bash
# `make bench`: run the benchmarks in bench/ against the embedded sandbox, keep their raw results in
# bench/results/performance.jsonl and write docs/performance.md from that file (commit both together).
# Not part of the test suite; takes several minutes. bench/report.py assembles the page from sections, one per
# benchmark (a benchmark module may write its own with report_section), and docs/performance-notes.md; it
# reads nothing but the results file (whose first line describes the run and the machine), so
# `python bench/report.py bench/results/performance.jsonl` regenerates the page from the committed results.
# The results file is replaced only when every benchmark has finished.
# Set OKTOPOST_BENCH_VENV to use an existing virtual environment instead of the one scripts/env.sh builds
# for the latest supported Airflow.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO"

VENV="${OKTOPOST_BENCH_VENV:-$(ensure_venv "$AIRFLOW_HIGH")}"
PY="$VENV/bin/python"
if ! "$PY" -c 'import airflow.providers.http' 2>/dev/null; then
  log "Installing apache-airflow-providers-http into $VENV (the parse-time comparison)"
  "$PY" -m pip install --quiet apache-airflow-providers-http >&2
fi

OUT="$(mktemp -d)"
export PYTHONPATH="$REPO/bench${PYTHONPATH:+:$PYTHONPATH}"
export AIRFLOW_HOME="$OUT/airflow-home" AIRFLOW__CORE__LOAD_EXAMPLES=False
mkdir -p "$AIRFLOW_HOME"
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
RESULTS="bench/results/performance.jsonl"
"$PY" bench/common.py "make bench" "$STARTED" > "$OUT/results.jsonl"

run() {  # run NAME ARGS...: keep the full output, show the figures
  local name="$1"; shift
  log "bench: $name"
  "$PY" "$@" > "$OUT/$name.log" 2>&1 || { tail -40 "$OUT/$name.log" >&2; exit 1; }
  grep -v '^\S*Z \[' "$OUT/$name.log" | grep -v '^RESULT ' >&2 || true
  grep '^RESULT ' "$OUT/$name.log" | sed 's/^RESULT //' >> "$OUT/results.jsonl"
}

run parse_cost bench/parse_cost.py
run hook_overhead bench/hook_overhead.py
run waits_poller bench/waits.py poller
run waits_baseline bench/waits.py baseline
if [[ -f bench/fleet.py ]]; then run fleet bench/fleet.py; fi
run onboarding bench/onboarding.py
run partners bench/partners.py

mkdir -p bench/results
cp "$OUT/results.jsonl" "$RESULTS"
"$PY" bench/report.py "$RESULTS" > "$OUT/performance.md"  # a failing report leaves the page as it was
mv "$OUT/performance.md" docs/performance.md
log "Wrote $RESULTS and docs/performance.md from it (each benchmark's full output in $OUT)"
