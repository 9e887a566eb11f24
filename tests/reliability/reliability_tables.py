"""Rendering of the recorded reliability results as Markdown (deterministic: sorted, no timestamps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HEADER = """# Reliability results (generated)

<!-- Written by tests/reliability (conftest.py, pytest_sessionfinish) after a full, passing run of
     `python -m pytest tests/reliability`. Do not edit by hand; docs/reliability.md explains them. -->
"""

Rows = dict[tuple[str, ...], dict[str, Any]]


def chaos_title(rows: Rows) -> str:
    """The chaos table's title, from what its rows recorded: the configured rate and what was injected."""
    rates = sorted({row["_rate"] for row in rows.values()})
    requests = sum(row["_requests"] for row in rows.values())
    hits = sum(row["_hits"] for row in rows.values())
    first = sum(row["_first_attempt_hits"] for row in rows.values())
    rate = " / ".join(f"{r:.0%}" for r in rates)
    return (
        f"Chaos runs (each response drawn for a transient fault with probability {rate}, and every "
        f"operation's first attempt faulted; in these {len(rows)} runs {hits} of {requests} responses "
        f"({hits / requests:.0%}) were faults: {hits - first} drawn, {first} first attempts)"
    )


TABLES: dict[str, tuple[str | Callable[[Rows], str], list[str]]] = {
    "faults": (
        "Fault matrix",
        ["case", "component", "expected", "observed", "requests", "waits", "final sandbox state"],
    ),
    "chaos": (
        chaos_title,
        ["DAG", "seed", "result", "faults injected", "requests hit", "requests", "integrations"],
    ),
}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_results(tables: dict[str, Rows]) -> str:
    out = [HEADER]
    for name, (title, columns) in TABLES.items():
        rows = tables.get(name)
        if not rows:
            continue
        out.append(f"\n## {title if isinstance(title, str) else title(rows)}\n")
        out.append("| " + " | ".join(columns) + " |")
        out.append("|" + "|".join("---" for _ in columns) + "|")
        for key in sorted(rows, key=lambda k: rows[k].get("_order", k)):
            row = rows[key]
            out.append("| " + " | ".join(_cell(row.get(col, "")) for col in columns) + " |")
        out.append(f"\n{len(rows)} rows.\n")
    return "\n".join(out)
