"""The Oktopost page: every account's call budget at a glance, as one self-contained HTML document.

Rendered on the server from the same data as the JSON API
(:func:`airflow_provider_oktopost.budget_view.accounts`), every value escaped; no script, no external
resource. It refreshes itself every 30 seconds and follows the browser's
light or dark colour scheme, like the Airflow UI around it.
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
:root { color-scheme: light dark; --fg: #1a202c; --muted: #64748b; --line: #e2e8f0; --bg: #ffffff;
  --head: #f7fafc; --ok: #2f855a; --warn: #b7791f; --bad: #c53030; --bar: #3182ce; }
@media (prefers-color-scheme: dark) { :root { --fg: #e2e8f0; --muted: #a0aec0; --line: #2d3748;
  --bg: #1a202c; --head: #2d3748; --bar: #63b3ed; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); margin: 20px 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { color: var(--muted); margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 10px 12px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--head); font-weight: 600; font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; color: var(--muted); }
.sub { color: var(--muted); font-size: 12px; }
.bar { height: 6px; background: var(--line); border-radius: 3px; margin-top: 4px; width: 140px; }
.bar > span { display: block; height: 6px; border-radius: 3px; background: var(--bar); }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  color: #fff; }
.ok { background: var(--ok); } .warn { background: var(--warn); } .bad { background: var(--bad); }
.empty { padding: 24px; color: var(--muted); border: 1px dashed var(--line); border-radius: 6px; }
code { font-size: 12px; }
"""


def _bar(used: int, limit: int | None) -> str:
    if not limit:
        return ""
    width = max(0, min(100, round(100 * used / limit)))
    return f'<div class="bar"><span style="width:{width}%"></span></div>'


def _clock(iso: str) -> str:
    """``2026-12-07T14:32:05Z`` as ``14:32:05 UTC`` (the full date is in the tooltip)."""
    return f'<span title="{escape(iso)}">{escape(iso[11:19])} UTC</span>'


def _duration(seconds: float) -> str:
    """``45 s``, ``14 min``, ``3 h 2 min``."""
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _pill(text: str, kind: str) -> str:
    return f'<span class="pill {kind}">{escape(text)}</span>'


def _row(row: dict[str, Any]) -> str:
    minute, today = row["calls_this_minute"], row["calls_today"]
    limit = minute["limit"]
    minute_text = f"{minute['used']} / {limit}" if limit else str(minute["used"])
    block = row["block"]
    if block:
        after = f"after a 429 at {_clock(row['last_429'])}" if row["last_429"] else "after a 429"
        block_cell = (
            f"{_pill('blocked', 'bad')} until {_clock(block['until'])}"
            f"<div class='sub'>{after}; {_duration(block['seconds_left'])} left</div>"
        )
    else:
        block_cell = _pill("sending", "ok")
    polling = row["polling"]
    polling_cell = (
        f"{_pill('paced', 'warn')} one read every {_duration(polling['seconds_between_reads'])}"
        f"<div class='sub'>{escape(polling['why'])}</div>"
        if polling["paced"]
        else _pill("normal", "ok")
    )
    waits = row["waits_in_flight"]
    waits_cell = (
        f"{waits['total']}<div class='sub'>{len(waits['triggerers'])} triggerer(s)</div>"
        if waits
        else "&mdash;"
    )
    return (
        "<tr>"
        f"<td><strong>{escape(row['account_id'])}</strong>"
        f"<div class='sub'>{escape(row['api_host'])}</div></td>"
        f"<td>{escape(minute_text)}<span class='sub'> per {minute['window_seconds']:g}s</span>"
        f"{_bar(minute['used'], limit)}</td>"
        f"<td>{today['used']} / {today['limit']}<div class='sub'>polling stops at {today['polling_limit']}"
        f"</div>{_bar(today['used'], today['limit'])}</td>"
        f"<td>{block_cell}</td>"
        f"<td>{_clock(row['last_429']) if row['last_429'] else '&mdash;'}</td>"
        f"<td>{polling_cell}</td>"
        f"<td>{waits_cell}</td>"
        "</tr>"
    )


def render_page(data: dict[str, Any]) -> str:
    """The whole page for :func:`airflow_provider_oktopost.budget_view.accounts`' answer."""
    rows = data["accounts"]
    if rows:
        body = (
            "<table><thead><tr><th>Account</th><th>This minute</th><th>Today (UTC)</th><th>Block</th>"
            "<th>Last 429</th><th>Polling</th><th>Waits in flight</th></tr></thead><tbody>"
            + "".join(_row(row) for row in rows)
            + "</tbody></table>"
        )
    else:
        body = (
            '<div class="empty">No Oktopost account has used this call budget store yet. Accounts appear '
            "here after their first call.</div>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="30"><title>Oktopost call budget</title>'
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Oktopost call budget</h1>"
        f'<p class="meta">Store {escape(data["store"])} &middot; as of {escape(data["generated_at"])} '
        '&middot; refreshes every 30 s &middot; <a href="api/accounts">JSON</a></p>'
        f"{body}</body></html>"
    )
