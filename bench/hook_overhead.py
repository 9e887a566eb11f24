"""Hook overhead: the client CPU ``OktopostHook.iter_integrations`` spends per integration, against a bare
``requests`` loop sending the same requests and decoding the same JSON.

The server must not be what is measured. The sandbox renders 100 records of a 10,000-row table per page,
which costs it far more than either client spends, so the pages are rendered once by the sandbox (the real
response bodies) and then served from memory by a minimal HTTP/1.1 server in its own process
(``python bench/hook_overhead.py --serve PORT PAGES``), which times each answer. The figure that counts is
the client process's CPU time (``time.process_time()``), which the server's speed cannot inflate. Runs
alternate hook / bare; medians over ``BENCH_HOOK_REPS`` pairs, and the spread of the per-pair CPU ratios.

The hook runs as users get it: the default budget store (the machine-wide SQLite file), one reservation per
request. Only the limit is raised (``rate_limit_per_minute``) so that 100 requests never wait for a slot.
:func:`breakdown` then times the reservation and the record building inside further listings, so the
report can say where the difference goes.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from common import emit, median

from airflow_provider_oktopost.testing import DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY, OktopostSandbox

N = 10_000
PAGE = 100


def render_pages(path: str) -> None:
    """Ask the real sandbox for every page once and keep the bodies (JSON lines: page -> body)."""
    with OktopostSandbox(rate_limit_per_minute=None) as sandbox:
        for n in range(N):
            sandbox.add_integration("cd", f"0CN{n:012d}")
        session = requests.Session()
        session.auth = (sandbox.account_id, sandbox.api_key)
        with open(path, "w") as out:
            for page in range(N // PAGE):
                reply = session.get(
                    f"{sandbox.base_url}/integration", params={"_count": PAGE, "_page": page}, timeout=60
                )
                reply.raise_for_status()
                out.write(json.dumps({"page": page, "body": reply.text}) + "\n")
        session.close()


def serve(port: int, pages_file: str) -> None:
    """Answer ``GET /v2/integration?_page=N`` from memory; ``GET /stats`` returns the answer times."""
    pages: dict[int, bytes] = {}
    with open(pages_file) as lines:
        for line in lines:
            item = json.loads(line)
            pages[item["page"]] = item["body"].encode()
    empty = json.dumps({"Result": True, "Items": [], "Total": N}).encode()
    served: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def do_GET(self) -> None:
            started = time.perf_counter()
            url = urlsplit(self.path)
            if url.path == "/stats":
                body = json.dumps(served).encode()
                served.clear()
            else:
                page = int(parse_qs(url.query).get("_page", ["0"])[0])
                body = pages.get(page, empty)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if url.path != "/stats":
                served.append(time.perf_counter() - started)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    print("listening", flush=True)
    server.serve_forever()


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
        reply = session.get(f"{base_url}/integration", params={"_count": PAGE, "_page": page}, timeout=60)
        reply.raise_for_status()
        data = reply.json()
        items = data["Items"]
        seen += len(items)
        page += 1
        if len(items) < PAGE or page * PAGE >= data["Total"]:
            break
    session.close()
    return seen


def hook_run() -> int:
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    hook = OktopostHook()
    count = sum(1 for _ in hook.iter_integrations())
    hook.close()
    return count


def breakdown(reps: int) -> dict[str, Any]:
    """Two parts of the hook's own work, timed inside further listings run after the measured pairs.

    ``reserve_us``: the CPU of one reservation in the hook's call budget (every request makes one), in the
    store, with the limit and the slots the runs above left. ``records_us``: the CPU of turning one decoded
    list item into an ``Integration``. Timed by wrapping the two functions, so these runs are not part of
    the main figures; medians over ``reps`` listings.
    """
    from airflow_provider_oktopost._core import operations
    from airflow_provider_oktopost._core.budget.account import AccountBudget
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    spent = {"reserve": 0.0, "records": 0.0}
    done = {"reserve": 0, "records": 0}
    real_reserve, real_records = AccountBudget.reserve, operations.integrations_of_page

    def reserve(self: AccountBudget, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        grant = real_reserve(self, *args, **kwargs)
        spent["reserve"] += time.process_time() - started
        done["reserve"] += 1
        return grant

    def records(items: list[dict[str, Any]]) -> Any:
        started = time.process_time()
        built = real_records(items)
        spent["records"] += time.process_time() - started
        done["records"] += len(built)
        return built

    per_call: list[float] = []
    per_record: list[float] = []
    AccountBudget.reserve = reserve  # type: ignore[method-assign]
    operations.integrations_of_page = records
    try:
        for _ in range(reps):
            for name in spent:
                spent[name], done[name] = 0.0, 0
            hook_run()
            per_call.append(spent["reserve"] / done["reserve"])
            per_record.append(spent["records"] / done["records"])
    finally:
        AccountBudget.reserve = real_reserve  # type: ignore[method-assign]
        operations.integrations_of_page = real_records
    budget = OktopostHook()._context.budget
    return {
        "budget_store": type(budget.store).__name__,
        "budget_shared": budget.shared,
        "budget_per_minute": budget.per_minute,
        "reserve_us": round(1e6 * median(per_call), 1),
        "records_us": round(1e6 * median(per_record), 2),
    }


def timed(fn: Any, *args: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    assert fn(*args) == N
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), sys.argv[3])
        return
    reps = int(os.environ.get("BENCH_HOOK_REPS", "15"))
    pages_file = os.path.join(tempfile.mkdtemp(prefix="bench-pages-"), "pages.jsonl")
    render_pages(pages_file)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), pages_file], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        root = f"http://127.0.0.1:{port}"
        base_url = f"{root}/v2"
        conn = {
            "conn_type": "oktopost",
            "login": DEFAULT_ACCOUNT_ID,
            "password": DEFAULT_API_KEY,
            "host": base_url,
            "extra": {"rate_limit_per_minute": 1_000_000},
        }
        os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = json.dumps(conn)
        timed(hook_run)  # warm-up (imports, connection lookup), and both see everything
        timed(bare, base_url)
        requests.get(f"{root}/stats", timeout=10)
        pairs = [(timed(hook_run), timed(bare, base_url)) for _ in range(reps)]
        served = requests.get(f"{root}/stats", timeout=10).json()
        parts = breakdown(reps)
    finally:
        server.terminate()
        server.wait(10)
    hook_wall, hook_cpu = median([h[0] for h, _ in pairs]), median([h[1] for h, _ in pairs])
    bare_wall, bare_cpu = median([b[0] for _, b in pairs]), median([b[1] for _, b in pairs])
    pair_ratios = [h[1] / b[1] for h, b in pairs]
    figures = {
        "reps": reps,
        "integrations": N,
        "requests_per_run": N // PAGE,
        "hook_s": round(hook_wall, 3),
        "bare_s": round(bare_wall, 3),
        "hook_cpu_s": round(hook_cpu, 3),
        "bare_cpu_s": round(bare_cpu, 3),
        "ratio": round(hook_wall / bare_wall, 3),
        "cpu_ratio": round(hook_cpu / bare_cpu, 3),
        "cpu_ratio_min": round(min(pair_ratios), 3),
        "cpu_ratio_max": round(max(pair_ratios), 3),
        "cpu_ratio_stdev": round(statistics.stdev(pair_ratios), 3) if reps > 1 else None,
        "server_requests": len(served),
        "server_ms_median": round(1000 * median(served), 3),
        "server_ms_max": round(1000 * max(served), 3),
        **parts,
    }
    print(json.dumps(figures, indent=1))
    emit("hook_overhead", **figures)


if __name__ == "__main__":
    main()
