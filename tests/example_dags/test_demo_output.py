"""``make demo`` prints the provider's story and no warning a new user would have to wonder about.

The test runs ``scripts/demo.py`` (what ``make demo`` runs) exactly as the README's command does: a fresh
interpreter, its own throwaway Airflow home, the sandbox, ``dag.test()`` twice. It fails on any line that
looks like a warning (a log line at WARNING level, a Python warning, the word "warning" at all), and checks
that the story is there: both runs succeed, the asset event is recorded, the second run creates nothing.

``make demo`` runs on the newest Airflow only (``AIRFLOW_HIGH`` in ``scripts/env.sh``), so the run is checked
on that version; older ones print their own deprecation noise in a demo nobody runs on them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import airflow
import pytest

REPO = Path(__file__).resolve().parents[2]
#: The Airflow version ``make demo`` runs on (``scripts/demo.sh`` uses ``AIRFLOW_HIGH``).
DEMO_AIRFLOW = re.search(
    r'AIRFLOW_HIGH="\$\{OKTOPOST_AIRFLOW_HIGH:-([0-9.]+)\}"', (REPO / "scripts/env.sh").read_text()
)

pytestmark = pytest.mark.airflow

#: A log line at WARNING (structlog's "[warning  ]", stdlib's "WARNING"), a Python warning ("...Warning:"),
#: or any other mention of a warning.
WARNING_LINE = re.compile(r"warn", re.IGNORECASE)


def _run_demo() -> subprocess.CompletedProcess[str]:
    # The demo sets up its own Airflow; nothing of the test session's Airflow settings may leak into it.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "OKTOPOST"))}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )


@pytest.mark.skipif(
    DEMO_AIRFLOW is None or airflow.__version__ != DEMO_AIRFLOW.group(1),
    reason="make demo runs on the newest Airflow only (scripts/env.sh AIRFLOW_HIGH)",
)
def test_make_demo_prints_the_story_and_no_warning() -> None:
    result = _run_demo()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = [line for line in output.splitlines() if WARNING_LINE.search(line)]
    assert not warnings, "make demo printed warning line(s):\n" + "\n".join(warnings)
    assert "Demo succeeded" in output
    assert re.search(r"oktopost://\S+/integrations/\S+ +alias=\['oktopost_onboarded'\]", output), output
    assert "second run: success; POST requests sent: 0" in output


def test_the_readme_shows_a_demo_run_without_warnings() -> None:
    """The README's copy of a ``make demo`` run (between its markers) is a whole, successful run."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- make-demo-output -->", 1)[1].split("<!-- /make-demo-output -->", 1)[0]
    assert "$ make demo" in block and "==> Demo succeeded" in block
    assert "second run: success; POST requests sent: 0" in block
    assert not [line for line in block.splitlines() if WARNING_LINE.search(line)]


def test_the_warning_check_can_fail() -> None:
    """The pattern catches the lines the demo used to print (copied from a run before the fix)."""
    before = [
        "2026-12-07T14:56:13.619585Z [warning  ] Using `httpx` with `starlette.testclient` is deprecated; "
        "install `httpx2` instead. [py.warnings] category=StarletteDeprecationWarning",
        "2026-12-07T14:56:34.567453Z [warning  ] Emitting event for inactive AssetModel SerializedAsset(...)",
        "/x/fastapi/testclient.py:1: StarletteDeprecationWarning: Using `httpx` with ...",
        "[2026-12-07 14:56:34] WARNING - AssetModel ... not found; cannot create asset event.",
    ]
    assert all(WARNING_LINE.search(line) for line in before)
    assert DEMO_AIRFLOW is not None, "scripts/env.sh no longer sets AIRFLOW_HIGH as this test reads it"
