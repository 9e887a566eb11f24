"""The ``[oktopost]`` options: declared in the provider info, valid, shown by Airflow, and the exact set read.

The declaration (``config_options.OPTIONS``) feeds ``get_provider_info()["config"]``; these tests fail when
the code reads an option that is not declared, when a declared one is no longer read, when a declared
default is not what the code defaults to, and when Airflow does not accept or show the declaration.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import airflow
import jsonschema
import pytest

import airflow_provider_oktopost
from airflow_provider_oktopost.config_options import OPTIONS, SECTION
from airflow_provider_oktopost.core.budget import settings
from airflow_provider_oktopost.get_provider_info import get_provider_info

PACKAGE = Path(airflow_provider_oktopost.__file__).parent


def test_provider_info_is_valid_against_the_schema_airflow_ships() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["config"][SECTION]["options"] == OPTIONS and len(OPTIONS) >= 8


def _names_read_in_source() -> set[str]:
    """Every literal option name the package passes to ``airflow_option``; a read of the section by any
    other route (``conf.get*("oktopost", ...)``, the environment) or with a computed name fails the test."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert f"AIRFLOW__{SECTION.upper()}__" not in node.value or path.name == "settings.py", (
                    f"{path}: reads the [{SECTION}] section from the environment itself"
                )
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            args = node.args
            if name == "airflow_option" and path.name != "config.py":  # config.py: the settings loop below
                assert args and isinstance(args[0], ast.Constant), f"{path}:{node.lineno}: a computed name"
                found.add(args[0].value)
            elif name.startswith("get") and args and isinstance(args[0], ast.Constant):
                assert args[0].value != SECTION or path.name == "settings.py", (
                    f"{path}:{node.lineno}: reads [{SECTION}] without airflow_option"
                )
    return found


def test_every_option_read_is_declared_and_every_declared_one_is_read() -> None:
    read = _names_read_in_source() | {option for option, _attribute in settings.OPTIONS.values()}
    declared = set(OPTIONS)
    assert read == declared, (
        f"read, not declared: {sorted(read - declared)}; declared, not read: {sorted(declared - read)}"
    )


def test_reading_an_undeclared_option_is_refused() -> None:
    with pytest.raises(KeyError, match=r"\[oktopost\] budget_stor is not declared"):
        settings.airflow_option("budget_stor")


def test_declared_defaults_are_the_code_defaults() -> None:
    defaults = settings.BudgetSettings()
    by_attribute = {attribute: option for option, attribute in settings.OPTIONS.values()}
    kinds = {"string": str, "integer": int, "float": float}
    for field in fields(defaults):
        option = OPTIONS[by_attribute[field.name]]
        declared = kinds[option["type"]](option["default"])
        assert declared == getattr(defaults, field.name), field.name
        assert option["type"] != "integer" or isinstance(getattr(defaults, field.name), int)
    assert OPTIONS["daily_limit"]["default"] == "20000"  # Oktopost's documented limit, not just consistent
    assert OPTIONS["budget_store"]["default"] == ""  # automatic; empty: Airflow masks nothing by default


_AIRFLOW_SHOWS_VALUES_ON_REQUEST = tuple(int(p) for p in airflow.__version__.split(".")[:2]) >= (3, 2)


def _airflow_config(tmp_path: Path, *args: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(f"AIRFLOW__{SECTION.upper()}__")}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "config", *args],
        capture_output=True,
        text=True,
        env={**clean, "AIRFLOW_HOME": str(tmp_path), **env},
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.airflow
def test_airflow_config_list_shows_every_option_with_its_default(tmp_path: Path) -> None:
    # Airflow 3.2 hides values unless asked (--show-values); 3.0 and 3.1 show them and lack the flag.
    show = ["--show-values"] if _AIRFLOW_SHOWS_VALUES_ON_REQUEST else []
    out = _airflow_config(tmp_path, "list", "--section", SECTION, *show)
    lines = out.splitlines()
    assert f"[{SECTION}]" in lines
    for option, declaration in OPTIONS.items():
        assert f"{option} = {declaration['default']}".rstrip() in [line.rstrip() for line in lines], option


@pytest.mark.airflow
def test_airflow_config_get_value_reads_the_default_and_an_override(tmp_path: Path) -> None:
    # The value is the last line: Airflow 3.0 prints its start-up log lines to stdout too.
    assert _airflow_config(tmp_path, "get-value", SECTION, "daily_limit").splitlines()[-1] == "20000"
    overridden = _airflow_config(
        tmp_path, "get-value", SECTION, "daily_limit", AIRFLOW__OKTOPOST__DAILY_LIMIT="1234"
    )
    assert overridden.splitlines()[-1] == "1234"
