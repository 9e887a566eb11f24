"""Helpers of the packaging tests: the source version, the artifacts, a clean venv to run commands in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIST_NAME = "airflow_provider_oktopost"


def source_version() -> str:
    """The version written in the package's ``__init__.py``: the one source every artifact must show."""
    text = (REPO / DIST_NAME / "__init__.py").read_text()
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    assert found, "no __version__ literal in airflow_provider_oktopost/__init__.py"
    return found.group(1)


@dataclass(frozen=True)
class Artifacts:
    """The sdist and the wheel of one build."""

    sdist: Path
    wheel: Path


def constraints_args() -> list[str]:
    """``-c constraints/af<airflow>-<flavour>-py<X.Y>.txt`` of the running environment (none if unpinned)."""
    if os.environ.get("OKTOPOST_UNCONSTRAINED") == "1":
        return []
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    matches = sorted((REPO / "constraints").glob(f"af{version('apache-airflow')}-*-py{py}.txt"))
    assert len(matches) == 1, f"no single constraints file for this environment: {matches}"
    return ["-c", str(matches[0])]


@dataclass(frozen=True)
class CleanVenv:
    """A venv holding only Airflow and the installed wheel; ``run`` executes inside it, away from the repo."""

    path: Path
    home: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "OKTOPOST_TEST", "PYTHON", "VIRTUAL_ENV"))
        }
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.home / "dags"),
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
        )
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the venv (``airflow``, ``python``...) in ``home``; fail with its output."""
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.home,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result
