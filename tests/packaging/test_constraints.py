"""The constraints files: the running environment is exactly what its file pins, and a stale file fails.

``scripts/env.sh`` installs each environment with ``pip install -c constraints/<env>.txt``; pip's ``-c``
only restricts packages the file lists, so ``check_constraints`` (run by ``ensure_venv`` after every
install) refuses an environment holding anything the file does not pin. These tests run that same shell
function against this environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_support import REPO, constraints_args

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(os.environ.get("OKTOPOST_UNCONSTRAINED") == "1", reason="no constraints in use"),
]


def check_constraints(constraints: Path) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.prefix)
    return subprocess.run(
        ["bash", "-c", f'source scripts/env.sh && check_constraints "{venv}" "{constraints}"'],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_this_environment_is_exactly_its_constraints_file() -> None:
    result = check_constraints(Path(constraints_args()[1]))
    assert result.returncode == 0, result.stderr


def test_a_dependency_missing_from_the_file_fails_loudly(tmp_path: Path) -> None:
    """As after adding a dependency to pyproject.toml without ``make constraints``."""
    lines = Path(constraints_args()[1]).read_text().splitlines()
    stale = tmp_path / "stale.txt"
    stale.write_text("\n".join(line for line in lines if not line.startswith("requests==")) + "\n")
    result = check_constraints(stale)
    assert result.returncode != 0
    assert "does not pin this environment" in result.stderr
    assert "requests" in result.stderr and "not pinned" in result.stderr


def test_a_pin_at_another_version_fails_loudly(tmp_path: Path) -> None:
    lines = Path(constraints_args()[1]).read_text().splitlines()
    moved = tmp_path / "moved.txt"
    moved.write_text(
        "\n".join("requests==0.0.1" if line.startswith("requests==") else line for line in lines) + "\n"
    )
    result = check_constraints(moved)
    assert result.returncode != 0
    assert "pinned at 0.0.1" in result.stderr
