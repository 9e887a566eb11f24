"""Benchmark 1: what importing the provider's operators and sensor adds to a DAG parse.

Each measurement is a fresh interpreter that first imports ``airflow.sdk`` (what every DAG file pays anyway),
then times the import under test and the growth of its resident set. Compared with the same for
``apache-airflow-providers-http``'s ``HttpOperator``; an empty import gives the noise floor. The goal: both
ratios (time and RSS, oktopost / http) at most :data:`GOAL`; the operators and the sensor import only their
classes and argument checks at parse time (``tests/operators/test_parse_time_imports.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from common import emit, median

#: Both ratios (oktopost / http, time and RSS) must be at most this: a tenth of the http provider's cost.
GOAL = 0.1

CASES = {
    "empty": "pass",
    "oktopost": (
        "from airflow_provider_oktopost.operators.oktopost import (OktopostConnectIntegrationOperator,"
        " OktopostDeleteIntegrationOperator, OktopostListIntegrationsOperator,"
        " OktopostUpdateIntegrationOperator)\n"
        "from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor"
    ),
    "http": "from airflow.providers.http.operators.http import HttpOperator",
}

SNIPPET = """
import json, time
def rss():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmRSS:')) / 1024
import airflow.sdk
r0 = rss(); t0 = time.perf_counter()
{code}
t1 = time.perf_counter(); r1 = rss()
print(json.dumps({{"seconds": t1 - t0, "rss_mb": r1 - r0}}))
"""


def measure(code: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(code=code)], capture_output=True, text=True, env=env, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    reps = int(os.environ.get("BENCH_PARSE_REPS", "9"))
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="bench-airflow-home-")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in CASES}
    for _ in range(reps):
        for name, code in CASES.items():  # interleaved, so drift hits every case alike
            runs[name].append(measure(code, env))
    figures = {}
    for name, results in runs.items():
        figures[name] = {
            "import_ms": round(1000 * median([r["seconds"] for r in results]), 1),
            "rss_mb": round(median([r["rss_mb"] for r in results]), 2),
        }
        print(
            f"{name:10s} import {figures[name]['import_ms']:8.1f} ms   RSS +{figures[name]['rss_mb']:.2f} MB"
        )
    ok, http = figures["oktopost"], figures["http"]
    time_ratio = ok["import_ms"] / http["import_ms"]
    rss_ratio = ok["rss_mb"] / http["rss_mb"] if http["rss_mb"] > 0 else float("nan")
    print(f"oktopost/http: time {time_ratio:.3f}, RSS {rss_ratio:.3f} (goal: both <= {GOAL})")
    emit(
        "parse_cost",
        goal=GOAL,
        reps=reps,
        figures=figures,
        time_ratio=round(time_ratio, 3),
        rss_ratio=round(rss_ratio, 3),
    )


if __name__ == "__main__":
    main()
