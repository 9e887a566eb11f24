"""The sdist and the wheel: version, metadata and exactly the files meant to ship."""

from __future__ import annotations

import tarfile
import zipfile
from email.parser import Parser

import pytest
from packaging_support import DIST_NAME, REPO, Artifacts, source_version

pytestmark = pytest.mark.packaging


def test_file_names_carry_the_source_version(artifacts: Artifacts) -> None:
    assert artifacts.wheel.name == f"{DIST_NAME}-{source_version()}-py3-none-any.whl"
    assert artifacts.sdist.name == f"{DIST_NAME}-{source_version()}.tar.gz"


def test_wheel_holds_exactly_the_package(artifacts: Artifacts) -> None:
    """The package with py.typed and the sandbox; no tests, example DAGs, docs or caches."""
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        names = wheel.namelist()
    dist_info = f"{DIST_NAME}-{source_version()}.dist-info/"
    outside = [n for n in names if not n.startswith((f"{DIST_NAME}/", dist_info))]
    assert outside == []
    shipped = sorted(n for n in names if n.startswith(f"{DIST_NAME}/"))
    on_disk = sorted(
        p.relative_to(REPO).as_posix()
        for p in (REPO / DIST_NAME).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    assert shipped == on_disk  # every source file of the package, nothing else
    assert f"{DIST_NAME}/py.typed" in shipped
    assert f"{DIST_NAME}/testing/server.py" in shipped and f"{DIST_NAME}/testing/__main__.py" in shipped
    assert {n.removeprefix(dist_info) for n in names if n.startswith(dist_info)} >= {
        "METADATA",
        "WHEEL",
        "RECORD",
        "entry_points.txt",
        "licenses/LICENSE",
    }


def test_wheel_metadata(artifacts: Artifacts) -> None:
    dist_info = f"{DIST_NAME}-{source_version()}.dist-info/"
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        meta = Parser().parsestr(wheel.read(dist_info + "METADATA").decode())
        entry_points = wheel.read(dist_info + "entry_points.txt").decode()
    assert meta["Name"] == "airflow-provider-oktopost"
    assert meta["Version"] == source_version()
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "Apache-2.0"
    assert any(r.startswith("apache-airflow<4,>=3.0.0") for r in meta.get_all("Requires-Dist"))
    assert "[apache_airflow_provider]" in entry_points
    assert "provider_info = airflow_provider_oktopost.get_provider_info:get_provider_info" in entry_points
    assert "oktopost-sandbox = airflow_provider_oktopost.testing.__main__:main" in entry_points


def test_sdist_holds_sources_tests_and_examples_but_no_local_state(artifacts: Artifacts) -> None:
    root = f"{DIST_NAME}-{source_version()}/"
    with tarfile.open(artifacts.sdist) as sdist:
        names = {n.removeprefix(root) for n in sdist.getnames()}
    for needed in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "PKG-INFO",
        f"{DIST_NAME}/py.typed",
        "example_dags/example_oktopost_onboarding.py",
        "tests/conftest.py",
        "docs/conf.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("constraints/af") for n in names)
    local = [n for n in names if n.startswith((".venv", "dist/", "docs/_build", "docs/api/", ".git/"))]
    local += [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert local == []
