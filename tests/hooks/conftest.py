"""Fixtures for the hook and async-client tests: a sandbox connection without rate limits."""

from __future__ import annotations

import json

import pytest

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets


@pytest.fixture
def sandbox(oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    """A reset sandbox without its rate limit, and ``oktopost_default`` pointing at it.

    The client's own budget is raised too, so that a test doing many calls is not slowed by the throttle;
    the rate-limit tests set both back explicitly.
    """
    oktopost_sandbox.configure(rate_limit_per_minute=None)
    conn = oktopost_sandbox.connection_dict()
    conn["extra"] = {**conn.get("extra", {}), "rate_limit_per_minute": 100_000}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    reset_budgets()
    return oktopost_sandbox
