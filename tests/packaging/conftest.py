"""Fixtures for the packaging tests: the built sdist and wheel, and a clean venv with the wheel installed.

``make test`` builds the artifacts first (``scripts/build.sh``, into ``dist/``) and points
``OKTOPOST_DIST_DIR`` at them; run alone, these tests build their own into a temporary directory. The clean
venv gets the wheel (not an editable install, no test extras) with the same constraints file as the suite's
environment (none under ``OKTOPOST_UNCONSTRAINED=1``). Every command there runs with a fresh
``AIRFLOW_HOME``, outside the repository and without ``PYTHONPATH``, so only the installed wheel can answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging_support import REPO, Artifacts, CleanVenv, constraints_args


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """``dist/`` of ``scripts/build.sh`` when ``OKTOPOST_DIST_DIR`` is set, else a fresh build."""
    given = os.environ.get("OKTOPOST_DIST_DIR")
    if given:
        dist = Path(given).resolve()
    else:
        dist = tmp_path_factory.mktemp("dist")
        subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, f"expected one sdist and one wheel in {dist}"
    return Artifacts(sdist=sdists[0], wheel=wheels[0])


@pytest.fixture(scope="session")
def clean_venv(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanVenv]:
    """A new venv with ``apache-airflow==<this environment's>`` and the wheel, and a migrated database."""
    root = tmp_path_factory.mktemp("clean-venv")
    path, home = root / "venv", root / "home"
    (home / "dags").mkdir(parents=True)
    venv.create(path, with_pip=True)
    clean = CleanVenv(path=path, home=home)
    pip = ["python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    clean.run(*pip, *constraints_args()[:2], "--upgrade", "pip", timeout=300)
    clean.run(
        *pip,
        *constraints_args(),
        f"apache-airflow=={version('apache-airflow')}",
        str(artifacts.wheel),
        timeout=900,
    )
    clean.run("airflow", "db", "migrate", timeout=300)
    yield clean
