"""Assemble docs/performance.md from a run's results file (called by scripts/bench.sh).

``python bench/report.py bench/results/performance.jsonl > docs/performance.md``: the results file holds
the run's record (its first line: command, start, Airflow version, machine; see ``common.run_record``) and
every RESULT line of the run; the page is rendered from it alone and names it, so the committed file
regenerates the committed page. No path of the benchmark machine goes into the page.

The page is a list of sections. Each benchmark's section is computed from the RESULT lines that benchmark
emitted in this run, and from nothing else: no sentence states a figure, a repetition count or a property
of the machine that this run did not measure. A benchmark module may write its own section: when
``bench/<name>.py`` defines ``report_section(results: list[dict]) -> str`` (``fleet`` and ``onboarding``
do), it gets every RESULT line with ``"bench": "<name>"`` and its Markdown is included as is. Explanations
that are not measurements (how the poller works, why a baseline behaves as it does) live in
``docs/performance-notes.md``, included verbatim at the end under a heading that says so.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "docs" / "performance-notes.md"
Section = Callable[[list[dict[str, Any]]], str]


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def number(value: Any) -> float:
    """A figure as a float; a missing figure is NaN, so that every comparison with it is false."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def load(results_file: str) -> dict[str, list[dict[str, Any]]]:
    by_bench: dict[str, list[dict[str, Any]]] = {}
    with open(results_file) as lines:
        for line in lines:
            if line.strip():
                data = json.loads(line)
                by_bench.setdefault(data["bench"], []).append(data)
    return by_bench


def load_line(results: list[dict[str, Any]]) -> str:
    """The machine's load while a benchmark ran, as each RESULT line recorded it (see common.emit)."""
    loads = [
        f"{r['load_1m']:.2f}"
        + (f" ({r.get('mode') or r.get('store')})" if r.get("mode") or r.get("store") else "")
        for r in results
        if "load_1m" in r
    ]
    if not loads:
        return ""
    return f"1-minute load average when it finished: {', '.join(loads)}."


def parse_cost_section(results: list[dict[str, Any]]) -> str:
    p = results[-1]
    f = p["figures"]
    time_ratio, rss_ratio = number(p.get("time_ratio")), number(p.get("rss_ratio"))
    goal = number(p.get("goal"))  # bench/parse_cost.py's GOAL, recorded with the run
    ok = time_ratio <= goal and rss_ratio <= goal  # a NaN (missing measurement or goal) fails
    lines = [
        "## Parse-time cost",
        "",
        "What importing the provider's four operators and its sensor adds to a DAG parse, on top of",
        "`import airflow.sdk`, against `apache-airflow-providers-http`'s `HttpOperator`. Fresh interpreter",
        f"per measurement, median of {p['reps']} (interleaved); `empty` is the noise floor.",
        "",
        "| import | time (ms) | RSS added (MB) |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {f[name]['import_ms']} | {f[name]['rss_mb']} |" for name in ("empty", "oktopost", "http")
    ]
    lines += [
        "",
        f"Ratio oktopost / http: time {p.get('time_ratio')}, RSS {p.get('rss_ratio')}. Goal: both <= "
        f"{p.get('goal')} (a missing figure counts as not met): {verdict(ok)}.",
    ]
    return "\n".join(lines)


def hook_overhead_section(results: list[dict[str, Any]]) -> str:
    h = results[-1]
    cpu_ratio = number(h.get("cpu_ratio"))
    per_item = 1e6 * (number(h.get("hook_cpu_s")) - number(h.get("bare_cpu_s"))) / h["integrations"]
    store = h.get("budget_store", "an unrecorded store")
    shared = "shared by every process of the machine" if h.get("budget_shared") else "NOT shared"
    lines = [
        "## Hook overhead",
        "",
        f"`OktopostHook.iter_integrations()` over {h['integrations']:,} integrations "
        f"({h['requests_per_run']} requests of 100) against a bare `requests.Session` loop sending the",
        "same requests and decoding the same JSON. The server is a separate process that answers from pages",
        f"rendered before the run (median {h['server_ms_median']} ms per request inside the server, "
        f"max {h['server_ms_max']} ms),",
        "so the client's own work is what differs. The hook's budget is the default store "
        f"({store}, {shared}),",
        "one reservation per request; only its limit is raised (to "
        f"{h.get('budget_per_minute', '?')} calls a minute) so that it never waits. Median of {h['reps']}",
        "alternating runs; CPU is the client process's `time.process_time()`.",
        "",
        "| client | wall (s) | client CPU (s) |",
        "|---|---:|---:|",
        f"| OktopostHook.iter_integrations | {h['hook_s']} | {h['hook_cpu_s']} |",
        f"| bare requests.Session | {h['bare_s']} | {h['bare_cpu_s']} |",
        "",
        f"Client CPU ratio {h['cpu_ratio']} ({per_item:.1f} us more per integration); wall-time ratio "
        f"{h['ratio']}. Goal: client CPU ratio <= 1.3: {verdict(cpu_ratio <= 1.3)}. Spread of the "
        f"CPU ratio over the {h['reps']} pairs: {h['cpu_ratio_min']} to {h['cpu_ratio_max']}.",
    ]
    reserve_us, records_us = number(h.get("reserve_us")), number(h.get("records_us"))
    if not math.isnan(reserve_us) and not math.isnan(records_us):
        per_request = reserve_us * h["requests_per_run"] / h["integrations"]
        rest = per_item - per_request - records_us
        remainder = (
            f"the remaining {rest:.2f} us is the rest of the hook (driver, response checks, paging) and noise"
            if rest >= 0
            else f"together {per_request + records_us:.2f} us, {-rest:.2f} more than the measured "
            "difference: timing the parts costs time too, and single runs are noisy"
        )
        lines += [
            "",
            f"Where the {per_item:.1f} us go, from {h['reps']} further listings with two parts timed "
            f"(medians): the budget reservation costs {reserve_us} us per request, "
            f"{per_request:.2f} us per integration; building the typed `Integration` records "
            f"{records_us} us per integration; {remainder}.",
        ]
    return "\n".join(lines)


WAIT_ROWS = [
    ("API calls sent", "api_calls"),
    ("  of which listing pages", "list_calls"),
    ("  of which single reads", "get_calls"),
    ("HTTP 429 received", "http_429"),
    ("waits that succeeded", "succeeded"),
    ("waits that timed out", "timed_out"),
    ("ready -> detected, median (s)", "detect_delay_median_s"),
    ("ready -> detected, max (s)", "detect_delay_max_s"),
    ("added RSS, peak (MB)", "added_rss_mb"),
    ("event-loop lag, max (ms)", "loop_lag_max_ms"),
    ("event-loop lag, p99 (ms)", "loop_lag_p99_ms"),
    ("event-loop ticks more than 20 ms late", "lags_over_20ms"),
    ("garbage-collector pauses over 20 ms (longest, ms)", None),
    ("clients created before the clock starts", "clients_before_clock"),
    ("set-up before the clock starts, real (s)", "setup_real_s"),
    ("simulated / real duration (s)", None),
]


def per_min(value: Any) -> str:
    return "off" if value in (None, "off") else f"{value} calls/min"


def setup_sentence(poller: dict[str, Any], baseline: dict[str, Any]) -> str:
    """Where each side created its HTTP clients and pools: before the scaled clock, or inside the run."""
    parts = []
    for name, side in (("The poller", poller), ("The baseline", baseline)):
        clients = side.get("clients_before_clock")
        if clients is None:
            parts.append(f"{name}: where it created its clients was not recorded by this run.")
        elif clients:
            parts.append(
                f"{name} created its {clients} clients and pools before the clock started "
                f"({side.get('setup_real_s')} real s, not part of its duration)."
            )
        else:
            parts.append(
                f"{name} created no client before the clock started: it builds its client and pool inside "
                "the timed run, so that set-up is part of its duration."
            )
    return " ".join(parts)


def waits_section(results: list[dict[str, Any]]) -> str:
    by_mode = {r["mode"]: r for r in results}
    new, old = by_mode.get("poller", {}), by_mode.get("baseline", {})
    factor = new.get("time_factor")
    lines = [
        "## Waits at scale",
        "",
        f"{new.get('waits')} `OktopostIntegrationTrigger`s in one event loop (as in one triggerer), "
        f"`poll_interval` {new.get('poll_interval_s')} s, the integrations becoming valid at random moments "
        f"between {new.get('ready_from_s')} s and {new.get('ready_to_s')} s, every wait with a "
        f"{new.get('deadline_s')} s deadline.",
        f"Coalesced poller: sandbox limit {per_min(new.get('sandbox_limit_per_min'))}, client budget "
        f"{per_min(new.get('client_budget_per_min'))}. Baseline (the trigger's previous loop: one `GET` per "
        "trigger per interval, one `httpx` pool per trigger): sandbox limit "
        f"{per_min(old.get('sandbox_limit_per_min'))}, client budget "
        f"{per_min(old.get('client_budget_per_min'))}"
        + (", so it sends what it asks for." if old.get("client_budget_per_min") == "off" else "."),
        f"**Time is scaled** {factor}x for the poller and {old.get('time_factor')}x for the baseline: the "
        "provider clock (`_core.clock`) and the sandbox clock run that much faster than real time; calls, "
        "429s and delays are in simulated seconds, RSS and loop lag are real. " + setup_sentence(new, old),
        "",
        "| | coalesced poller | baseline (old) |",
        "|---|---:|---:|",
    ]
    for label, key in WAIT_ROWS:
        if key is None and label.startswith("garbage"):
            lines.append(
                f"| {label} | {new.get('gc_pauses_over_20ms')} ({new.get('gc_pause_max_ms')}) | "
                f"{old.get('gc_pauses_over_20ms')} ({old.get('gc_pause_max_ms')}) |"
            )
        elif key is None:
            lines.append(
                f"| {label} | {new.get('simulated_s')} / {new.get('real_s')} | "
                f"{old.get('simulated_s')} / {old.get('real_s')} |"
            )
        else:
            lines.append(f"| {label} | {new.get(key)} | {old.get(key)} |")
    sent_ratio = number(old.get("api_calls")) / max(1.0, number(new.get("api_calls")))
    poll = number(new.get("poll_interval_s"))
    lines += [
        "",
        "Goals (poller):",
        "",
        f"- zero 429s: {verdict(new.get('http_429') == 0)} ({new.get('http_429')}).",
        f"- >= 50x fewer calls than the baseline sent: {sent_ratio:.1f}x "
        f"({old.get('api_calls')} / {new.get('api_calls')}): {verdict(sent_ratio >= 50)}.",
        f"- max detection delay <= 2 poll intervals ({2 * poll:g} s): "
        f"{verdict(number(new.get('detect_delay_max_s')) <= 2 * poll)} ({new.get('detect_delay_max_s')} s).",
        f"- added RSS < 100 MB: {verdict(number(new.get('added_rss_mb')) < 100)} "
        f"({new.get('added_rss_mb')} MB).",
        f"- loop lag p99 < 20 ms: {verdict(number(new.get('loop_lag_p99_ms')) < 20)} "
        f"({new.get('loop_lag_p99_ms')} ms).",
    ]
    lines += [
        "",
        "How time scaling distorted each side, measured: the longest event-loop stall was "
        f"{new.get('loop_lag_max_simulated_s')} simulated s for the poller and "
        f"{old.get('loop_lag_max_simulated_s')} for the baseline (real stall x time factor); the "
        f"baseline's requests took a median of {old.get('request_latency_median_s')} simulated s from "
        f"sending to the answer (max {old.get('request_latency_max_s')}).",
    ]
    if new.get("gc_objects_at_start") is not None:
        lines += [
            "",
            f"Garbage collection, measured: the poller's process held {new['gc_objects_at_start']:,} objects "
            "when the clock started (Airflow and the sandbox are loaded in it); the collector ran "
            f"{new.get('gc_full_collections')} full collections during the run, paused the process "
            f"{new.get('gc_pauses_over_20ms')} times for more than 20 ms (longest "
            f"{new.get('gc_pause_max_ms')} ms), against {new.get('lags_over_20ms')} loop ticks more than "
            f"20 ms late and a longest lag of {new.get('loop_lag_max_ms')} ms.",
        ]
    return "\n".join(lines)


def onboarding_fallback(results: list[dict[str, Any]]) -> str:
    """The section for the older onboarding benchmark (until it writes its own ``report_section``)."""
    o = results[-1]
    return "\n".join(
        [
            "## Onboarding cost",
            "",
            f"API calls for {o['cnames']} CNAMEs through the connect path, the sensor's first check and the "
            "coalesced waits (see `bench/onboarding.py` for the method).",
            "",
            "| phase | calls |",
            "|---|---:|",
            f"| connect (of which listing pages) | {o['connect_calls']} ({o['connect_list_calls']}) |",
            f"| sensor first check | {o['sensor_first_check_calls']} |",
            f"| triggers (coalesced waits) | {o['trigger_wait_calls']} |",
            f"| **total** | **{o['total_calls']}** |",
            f"| **per integration** | **{o['calls_per_integration']}** |",
            "",
            f"Waits succeeded: {o['succeeded']} of {o['cnames']}; 429s during the waits: {o['http_429']}; "
            f"the waits cost {o['wait_calls_per_integration']} calls per integration.",
        ]
    )


#: Benchmarks in the order of the file; the function is used unless the module has ``report_section``.
SECTIONS: list[tuple[str, Section | None]] = [
    ("parse_cost", parse_cost_section),
    ("hook_overhead", hook_overhead_section),
    ("waits", waits_section),
    ("fleet", None),
    ("onboarding", onboarding_fallback),
    ("partners", None),
]


def section_writer(name: str, fallback: Section | None) -> Section | None:
    """``bench/<name>.py``'s own ``report_section`` when it has one, else ``fallback``."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return fallback
    own: Section | None = getattr(module, "report_section", None)
    return own if own is not None else fallback


def render(by_bench: dict[str, list[dict[str, Any]]], results_name: str) -> str:
    """The page, from one results file's lines (``load``); ``results_name`` is how the page names it."""
    runs = by_bench.get("_run")
    if not runs:
        raise SystemExit(f"{results_name} has no run record (the _run line scripts/bench.sh writes first)")
    run = runs[-1]
    by_bench = {name: lines for name, lines in by_bench.items() if name != "_run"}
    ran = [name for name, _ in SECTIONS if by_bench.get(name)]
    out = [
        "# Performance",
        "",
        f"Written by `{run['command']}` (`scripts/bench.sh`, sources in `bench/`) from the run started "
        f"{run['started']}; benchmarks in this run: {', '.join(ran) or 'none'}. Every sentence under a "
        "benchmark's heading is computed from that run's figures; the explanations at the end are "
        "hand-written and are not measurements.",
        "",
        f"Raw results: `{results_name}` (the run's record and every RESULT line it printed, one JSON "
        f"object a line); `python bench/report.py {results_name}` renders this page from it.",
        "",
        f"Machine: `nproc` = {run['nproc']}, CPU {run['cpu']}, {run['ram_gb']} GB RAM; "
        f"Python {run['python']}, Airflow {run['airflow']}; {run['platform']}.",
    ]
    for name, fallback in SECTIONS:
        results = by_bench.get(name)
        if not results:
            continue
        writer = section_writer(name, fallback)
        if writer is None:
            continue
        out += ["", writer(results).rstrip()]
        loads = load_line(results)
        if loads:
            out += ["", loads]
    unknown = sorted(set(by_bench) - {name for name, _ in SECTIONS})
    if unknown:
        raise SystemExit(f"RESULT lines from benchmarks report.py does not know: {unknown}")
    if NOTES.exists():
        out += [
            "",
            "## Explanations (hand-written in `docs/performance-notes.md`, not measurements)",
            "",
            re.sub(r"<!--.*?-->", "", NOTES.read_text(), flags=re.DOTALL).strip(),
        ]
    return "\n".join(out).rstrip() + "\n"


def published_name(results_file: str) -> str:
    """The results file as the page names it: relative to the repository, which it must be inside."""
    path = Path(results_file).resolve()
    if not path.is_relative_to(REPO):
        raise SystemExit(f"{results_file}: keep the results inside the repository (bench/results/)")
    return path.relative_to(REPO).as_posix()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", help="the run's results file, e.g. bench/results/performance.jsonl")
    args = parser.parse_args()
    print(render(load(args.results), published_name(args.results)), end="")


if __name__ == "__main__":
    main()
