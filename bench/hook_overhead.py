"""Benchmark 2: ``OktopostHook.iter_integrations`` over 10,000 integrations vs a bare ``requests`` loop.

The sandbox runs in its own process (``python -m airflow_provider_oktopost.testing``, rate limit off, 10,000
seeded integrations), so the client's figures are not mixed with the server's work in one interpreter. Both
clients send the same 100 requests ``GET /v2/integration?_count=100&_page=N``; the hook's budget is raised
so that it never waits. Runs alternate; medians of wall time and of the client process's CPU time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import requests
from common import emit, median

from airflow_provider_oktopost.testing import DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY

N = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bare(base_url: str) -> int:
    session = requests.Session()
    session.auth = (DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY)
    seen = 0
    page = 0
    while True:
        reply = session.get(f"{base_url}/integration", params={"_count": 100, "_page": page}, timeout=60)
        reply.raise_for_status()
        data = reply.json()
        items = data["Items"]
        seen += len(items)
        page += 1
        if len(items) < 100 or page * 100 >= data["Total"]:
            break
    session.close()
    return seen


def hook_run() -> int:
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    hook = OktopostHook()
    count = sum(1 for _ in hook.iter_integrations())
    hook.close()
    return count


def timed(fn: object, *args: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    reps = int(os.environ.get("BENCH_HOOK_REPS", "3"))
    port = free_port()
    command = [sys.executable, "-m", "airflow_provider_oktopost.testing", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--rate-limit", "0", "--seed-integrations", str(N)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "listening on" in line:
                break
        base_url = f"http://127.0.0.1:{port}/v2"
        conn = {
            "conn_type": "oktopost",
            "login": DEFAULT_ACCOUNT_ID,
            "password": DEFAULT_API_KEY,
            "host": base_url,
            "extra": {"rate_limit_per_minute": 1_000_000},
        }
        os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = json.dumps(conn)
        assert hook_run() == N and bare(base_url) == N  # warm-up, and both see everything
        hook_t, bare_t = [], []
        for _ in range(reps):
            hook_t.append(timed(hook_run))
            bare_t.append(timed(bare, base_url))
    finally:
        server.terminate()
        server.wait(10)
    ratio = median([w for w, _ in hook_t]) / median([w for w, _ in bare_t])
    cpu_ratio = median([c for _, c in hook_t]) / median([c for _, c in bare_t])
    figures = {
        "reps": reps,
        "integrations": N,
        "requests_per_run": N // 100,
        "hook_s": round(median([w for w, _ in hook_t]), 3),
        "bare_s": round(median([w for w, _ in bare_t]), 3),
        "hook_cpu_s": round(median([c for _, c in hook_t]), 3),
        "bare_cpu_s": round(median([c for _, c in bare_t]), 3),
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
    }
    print(json.dumps(figures, indent=1))
    emit("hook_overhead", **figures)


if __name__ == "__main__":
    main()
