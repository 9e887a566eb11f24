"""Opt-in pytest fixtures for testing code against the sandbox.

Enable with ``pytest_plugins = ["airflow_provider_oktopost.testing.pytest_plugin"]`` in a root
``conftest.py``. One server runs per test session (starting uvicorn costs more than a test), and the
function-scoped fixtures reset it before each test, config included, so tests cannot see each other's
integrations, faults, clock jumps or rate-limit windows.

The provider's call budget is the session's own: whatever Airflow's configuration or the environment name
(a deployment's Redis, its machine-wide file), the budget options of the ``[oktopost]`` section point at a
temporary directory for the session (the automatic ``oktopost_private_budget`` fixture), and the resets
(:func:`~airflow_provider_oktopost.testing.budget.reset_budgets`) empty only that directory and forget this
process's budgets. A store the deployment shares is never emptied: a
15-minute block recorded there by a live process survives the test run. (A connection whose extras name a
store takes precedence over the section; the sandbox's connection names none.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from airflow_provider_oktopost._core.config_options import SECTION
from airflow_provider_oktopost.testing.server import CONNECTION_ENV_VAR, OktopostSandbox


@pytest.fixture(scope="session", autouse=True)
def oktopost_private_budget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's own budget store: a SQLite file in a temporary directory (its path).

    Set through the environment, so the processes a test starts use it too.
    """
    from airflow_provider_oktopost.testing.budget import reset_budgets, use_private_directory

    directory = str(tmp_path_factory.mktemp("oktopost-budget"))
    names = {
        f"AIRFLOW__{SECTION.upper()}__{option.upper()}": value
        for option, value in (("budget_store", "local"), ("budget_dir", directory))
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    use_private_directory(directory)
    reset_budgets()  # budgets opened before the session (at import) would still point elsewhere
    try:
        yield directory
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def oktopost_sandbox_server() -> Iterator[OktopostSandbox]:
    """One running sandbox for the whole session, on a free port of 127.0.0.1."""
    with OktopostSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def oktopost_sandbox(oktopost_sandbox_server: OktopostSandbox) -> OktopostSandbox:
    """The session's sandbox, reset (state and config) for this test.

    The provider's per-account call budget is reset too (this process's budgets are forgotten, and the
    session's own store, ``oktopost_private_budget``, is emptied), so a long test session is not slowed
    down because earlier tests used up the sandbox account's minute.
    """
    from airflow_provider_oktopost.testing.budget import reset_budgets

    oktopost_sandbox_server.reset(restore_config=True)
    reset_budgets()
    return oktopost_sandbox_server


@pytest.fixture
def oktopost_connection_env(
    oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> OktopostSandbox:
    """The reset sandbox, with ``AIRFLOW_CONN_OKTOPOST_DEFAULT`` pointing at it for this test."""
    monkeypatch.setenv(CONNECTION_ENV_VAR, oktopost_sandbox.connection_json())
    return oktopost_sandbox
