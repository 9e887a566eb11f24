"""Fixtures for the partner tests: the sandbox's partner account behind ``oktopost_partner_default``."""

from __future__ import annotations

import pytest
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox

PARTNER_ENV = "AIRFLOW_CONN_OKTOPOST_PARTNER_DEFAULT"


@pytest.fixture
def partner_env(oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    """The reset sandbox, with ``oktopost_partner_default`` pointing at its partner account."""
    monkeypatch.setenv(PARTNER_ENV, oktopost_sandbox.partner_connection_json())
    return oktopost_sandbox


@pytest.fixture
def partner_fast(partner_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    """Patch time, not the network: the provider's waits move the sandbox clock instead of sleeping."""
    SimClock(partner_env).install(monkeypatch)
    return partner_env
