"""The ``[oktopost]`` options: declared in the provider info, valid, shown by Airflow, and the exact set read.

The declaration (``config_options.OPTIONS``) feeds ``get_provider_info()["config"]``. What the code reads
is found without the declaration: an AST scan finds every function that calls the section's one reader
(``settings.airflow_option``) and that nothing else reads the section; those functions are then run, and
Airflow's own ``conf.get`` records the names they ask for; setting each option must change what they
return. The defaults the code computes with nothing configured are compared with the table users read in
``docs/deploying.md`` (written by hand), and so is the declaration.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest

import airflow_provider_oktopost
from airflow_provider_oktopost._core import config as core_config
from airflow_provider_oktopost._core.budget import settings
from airflow_provider_oktopost._core.config_options import OPTIONS, SECTION
from airflow_provider_oktopost.get_provider_info import get_provider_info
from airflow_provider_oktopost.triggers import _watch_state as watch_state

PACKAGE = Path(airflow_provider_oktopost.__file__).parent
DEPLOYING = PACKAGE.parent / "docs" / "deploying.md"

#: Every function that calls ``airflow_option``, and how this test runs it: what it returns with the
#: ``[oktopost]`` options as they are. The AST scan below must find exactly these.
READERS: dict[tuple[str, str], Callable[[], Any]] = {
    ("_core/config.py", "budget_settings"): lambda: core_config.budget_settings("oktopost_default", {}),
    ("triggers/_watch_state.py", "default_state_dir"): watch_state.default_state_dir,
}


def test_provider_info_is_valid_against_the_schema_airflow_ships() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def _functions_calling_the_reader() -> set[tuple[str, str]]:
    """Every (module, function) that calls ``airflow_option``; fails on any other route into the section
    (``conf.get*("oktopost", ...)`` or ``AIRFLOW__OKTOPOST__*`` outside ``settings.py``)."""
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert f"AIRFLOW__{SECTION.upper()}__" not in node.value or path.name == "settings.py", (
                    f"{path}: reads the [{SECTION}] section from the environment itself"
                )
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                args = node.args
                if name.startswith("get") and args and isinstance(args[0], ast.Constant):
                    assert args[0].value != SECTION or path.name == "settings.py", (
                        f"{path}:{node.lineno}: reads [{SECTION}] without airflow_option"
                    )
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != "airflow_option":
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Call):
                        func = inner.func
                        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                        if name == "airflow_option":
                            found.add((module, node.name))
    return found


@pytest.fixture
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``AIRFLOW__OKTOPOST__*`` variable, and an AIRFLOW_HOME of this test's own (returned)."""
    for name in list(os.environ):
        if name.startswith(f"AIRFLOW__{SECTION.upper()}__"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    return tmp_path


def _run_readers() -> dict[str, Any]:
    """What every reader returns now, as plain values."""
    out: dict[str, Any] = {}
    for (_module, function), run in READERS.items():
        value = run()
        if isinstance(value, settings.BudgetSettings):
            out.update({f"{function}.{k}": v for k, v in asdict(value).items()})
            out[f"{function}.local_directory"] = str(value.local_directory)
        else:
            out[f"{function}"] = str(value)
    return out


def test_every_option_read_is_declared_and_every_declared_one_is_read(
    nothing_configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _functions_calling_the_reader() == set(READERS), "a reader this test does not run (see READERS)"
    from airflow.providers.common.compat.sdk import conf

    asked: list[str] = []
    real_get = conf.get

    def recording_get(section: str, key: str, *args: Any, **kwargs: Any) -> Any:
        if section == SECTION:
            asked.append(key)
        return real_get(section, key, *args, **kwargs)

    monkeypatch.setattr(conf, "get", recording_get)
    _run_readers()
    declared = set(OPTIONS)
    read = set(asked)
    assert read == declared, (
        f"read, not declared: {sorted(read - declared)}; declared, not read: {sorted(declared - read)}"
    )


#: A value of each option, and what it must change in what the readers return.
SET_TO: dict[str, tuple[str, dict[str, Any]]] = {
    "budget_store": ("memory", {"budget_settings.store": "memory"}),
    "budget_dir": (
        "/srv/budget",
        {"budget_settings.directory": "/srv/budget", "budget_settings.local_directory": "/srv/budget"},
    ),
    "daily_limit": ("1234", {"budget_settings.daily_limit": 1234}),
    "daily_share_for_other_tools": ("0.25", {"budget_settings.share_for_other_tools": 0.25}),
    "budget_max_wait": ("7", {"budget_settings.max_wait": 7.0}),
    "listing_ttl": ("0", {"budget_settings.listing_ttl": 0.0}),
    "watcher_state_dir": ("/srv/watch", {"default_state_dir": "/srv/watch"}),
}


@pytest.mark.parametrize("option", sorted(SET_TO))
def test_each_option_changes_what_the_code_does(
    option: str, nothing_configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(SET_TO) == set(OPTIONS), "an option this test does not set"
    before = _run_readers()
    value, changes = SET_TO[option]
    monkeypatch.setenv(f"AIRFLOW__{SECTION.upper()}__{option.upper()}", value)
    after = _run_readers()
    assert {k: v for k, v in after.items() if before[k] != v} == changes


def _documented_defaults() -> dict[str, str]:
    """The Default column of docs/deploying.md's settings table, by option."""
    rows = {}
    settings_section = DEPLOYING.read_text().split("### Settings", 1)[1].split("\n#", 1)[0]
    for line in settings_section.splitlines():
        match = re.match(r"\| `(\w+)`[^|]*\| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip().strip("`")
    return rows


def test_the_code_defaults_are_the_documented_and_declared_ones(nothing_configured: Path) -> None:
    home = str(nothing_configured)
    documented = {
        option: text.replace("$AIRFLOW_HOME", home) for option, text in _documented_defaults().items()
    }
    computed = _run_readers()
    by_option = {
        "budget_store": computed["budget_settings.store"],
        "budget_dir": computed["budget_settings.local_directory"],
        "daily_limit": computed["budget_settings.daily_limit"],
        "daily_share_for_other_tools": computed["budget_settings.share_for_other_tools"],
        "budget_max_wait": computed["budget_settings.max_wait"],
        "listing_ttl": computed["budget_settings.listing_ttl"],
        "watcher_state_dir": computed["default_state_dir"],
    }
    assert set(by_option) == set(OPTIONS)
    for option, value in by_option.items():
        declared = OPTIONS[option]
        doc = "" if documented[option] == "empty" else documented[option]
        if isinstance(value, str):
            assert value == doc, option
        else:
            assert isinstance(value, int) == (declared["type"] == "integer"), option
            assert value == float(doc), option
        if declared["default"] == "" and value != "":  # computed: the description says from what
            described = re.search(r"Empty: ``([^`]+)``", declared["description"])
            assert described and described.group(1).replace("$AIRFLOW_HOME", home) == value, option
        else:
            assert str(declared["default"]) == doc, option
    assert documented["daily_limit"] == "20000"  # Oktopost's documented limit (API facts)
    assert computed["budget_settings.window"] == 60.0  # ... over a minute (not an option: see below)


def test_reading_an_undeclared_option_is_refused() -> None:
    with pytest.raises(KeyError, match=r"\[oktopost\] budget_stor is not declared"):
        settings.airflow_option("budget_stor")


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
