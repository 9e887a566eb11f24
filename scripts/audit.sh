#!/usr/bin/env bash
# Dependency hygiene (make audit): pip-audit over the installed environment of the latest supported Airflow.
# Fails when a known vulnerability affects one of our own direct dependencies (read from pyproject.toml);
# vulnerabilities in transitive dependencies are reported but do not fail the run (we do not pin them).
# Needs the package index and the vulnerability database (PyPI's JSON API / OSV), so it is not part of
# `make test`. The result is also written between the audit markers of docs/reliability.md.
# Exit status: 0 pass, 1 a direct dependency is vulnerable, 2 unknown (vulnerability data unreachable).
# Usage: scripts/audit.sh            (OKTOPOST_AUDIT_VENV=/path/to/venv to audit another environment)
source "$(dirname "$0")/env.sh"
cd "$REPO"

VENV="${OKTOPOST_AUDIT_VENV:-$(ensure_venv "$AIRFLOW_HIGH")}"
log "Installing pip-audit into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip-audit>=2.7" >&2

REPORT="$(mktemp)"
trap 'rm -f "$REPORT"' EXIT
log "pip-audit (installed environment of $VENV)"
set +e
"$VENV/bin/python" -m pip_audit --progress-spinner off --skip-editable --format json --output "$REPORT" >&2
AUDIT_RC=$?
set -e

"$VENV/bin/python" - "$REPORT" "$AUDIT_RC" "$REPO" <<'PY'
import json
import re
import sys
import tomllib
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

report_path, audit_rc, repo = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
direct = [norm(re.split(r"[\s;<>=!~\[]", dep, maxsplit=1)[0]) for dep in project["dependencies"]]
try:
    data = json.loads(Path(report_path).read_text() or "{}")
except ValueError:
    data = {}
deps = data.get("dependencies", []) if isinstance(data, dict) else []

lines = [f"- Date: {datetime.now(UTC):%Y-%m-%d} (Airflow {version('apache-airflow')}, pip-audit {version('pip-audit')})"]
skipped = {norm(d["name"]): d.get("skip_reason", "") for d in deps if "skip_reason" in d}
if not deps:
    lines.append(f"- pip-audit did not produce a report (exit code {audit_rc}): the index or the vulnerability "
                 "database was unreachable. Result: UNKNOWN.")
    status = 2
else:
    vulnerable = {norm(d["name"]): d for d in deps if d.get("vulns")}
    ours = {name: vulnerable[name] for name in direct if name in vulnerable}
    unaudited = [name for name in direct if name in skipped]
    lines.append(
        f"- Packages in the environment: {len(deps)}; audited: {len(deps) - len(skipped)}; "
        f"could not be audited: {len(skipped)}"
    )
    lines.append(f"- Direct dependencies (from pyproject.toml): {', '.join(direct)}")
    for name in direct:
        found = next((d for d in deps if norm(d["name"]) == name), None)
        if found is None:
            lines.append(f"  - {name}: not installed")
        elif name in skipped:
            lines.append(f"  - {name}: NOT AUDITED ({skipped[name]})")
        else:
            ids = ", ".join(v["id"] for v in found.get("vulns", [])) or "no known vulnerabilities"
            lines.append(f"  - {name} {found.get('version')}: {ids}")
    others = sorted(set(vulnerable) - set(ours))
    lines.append(
        "- Transitive packages with known vulnerabilities (reported, not failing): "
        + (", ".join(f"{n} {vulnerable[n]['version']} ({', '.join(v['id'] for v in vulnerable[n]['vulns'])})"
                     for n in others) or "none")
    )
    if ours:
        status = 1
        lines.append("- Result: FAIL (a direct dependency has a known vulnerability)")
    elif unaudited:
        status = 2
        lines.append(
            "- Result: UNKNOWN (the vulnerability data for our direct dependencies could not be fetched: "
            "pip-audit's PyPI JSON API or OSV was unreachable from this machine)"
        )
    else:
        status = 0
        lines.append("- Result: PASS")

summary = "\n".join(lines)
print(summary)
doc = repo / "docs" / "reliability.md"
if doc.exists():
    text = doc.read_text()
    begin, end = "<!-- audit:begin -->", "<!-- audit:end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        doc.write_text(f"{head}{begin}\n{summary}\n{end}{tail}")
sys.exit(status)
PY
