"""Rendering of the recorded reliability results as Markdown (deterministic: sorted, no timestamps)."""

from __future__ import annotations

from typing import Any

HEADER = """# Reliability results (generated)

<!-- Written by tests/reliability (conftest.py, pytest_sessionfinish) after a full, passing run of
     `python -m pytest tests/reliability`. Do not edit by hand; docs/reliability.md explains them. -->
"""

TABLES: dict[str, tuple[str, list[str]]] = {
    "faults": (
        "Fault matrix",
        ["case", "component", "expected", "observed", "requests", "waits", "final sandbox state"],
    ),
    "chaos": (
        "Chaos runs (20% of responses and every operation's first attempt replaced by transient faults)",
        ["DAG", "seed", "result", "faults injected", "requests hit", "requests", "integrations"],
    ),
}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_results(tables: dict[str, dict[tuple[str, ...], dict[str, Any]]]) -> str:
    out = [HEADER]
    for name, (title, columns) in TABLES.items():
        rows = tables.get(name)
        if not rows:
            continue
        out.append(f"\n## {title}\n")
        out.append("| " + " | ".join(columns) + " |")
        out.append("|" + "|".join("---" for _ in columns) + "|")
        for key in sorted(rows, key=lambda k: rows[k].get("_order", k)):
            row = rows[key]
            out.append("| " + " | ".join(_cell(row.get(col, "")) for col in columns) + " |")
        out.append(f"\n{len(rows)} rows.\n")
    return "\n".join(out)
