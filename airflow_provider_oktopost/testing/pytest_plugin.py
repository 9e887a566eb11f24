"""Opt-in pytest fixtures for testing code against the sandbox.

Enable with ``pytest_plugins = ["airflow_provider_oktopost.testing.pytest_plugin"]`` in a root
``conftest.py``. One server runs per test session (starting uvicorn costs more than a test), and the
function-scoped fixtures reset it before each test, config included, so tests cannot see each other's
integrations, faults, clock jumps or rate-limit windows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_oktopost.testing.server import CONNECTION_ENV_VAR, OktopostSandbox


@pytest.fixture(scope="session")
def oktopost_sandbox_server() -> Iterator[OktopostSandbox]:
    """One running sandbox for the whole session, on a free port of 127.0.0.1."""
    with OktopostSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def oktopost_sandbox(oktopost_sandbox_server: OktopostSandbox) -> OktopostSandbox:
    """The session's sandbox, reset (state and config) for this test.

    The provider's per-account call budget is reset too (this process's budgets, and the stores they opened
    are emptied), so a long test session is not slowed down because earlier tests used up the sandbox
    account's minute.
    """
    from airflow_provider_oktopost.core.throttle import reset_registry

    oktopost_sandbox_server.reset(restore_config=True)
    reset_registry()
    return oktopost_sandbox_server


@pytest.fixture
def oktopost_connection_env(
    oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> OktopostSandbox:
    """The reset sandbox, with ``AIRFLOW_CONN_OKTOPOST_DEFAULT`` pointing at it for this test."""
    monkeypatch.setenv(CONNECTION_ENV_VAR, oktopost_sandbox.connection_json())
    return oktopost_sandbox
