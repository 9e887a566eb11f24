"""A stateful, in-memory Oktopost Integrations API for tests and local DAG runs.

It serves the ``/v2`` routes the provider uses over real HTTP on 127.0.0.1, with Basic auth, the
documented 60-calls-per-minute limit with its 15-minute block, lazy validation of new integrations,
and injectable network faults, so that the provider's real HTTP code can be tested end to end
without an Oktopost partner account. Nothing here imports Airflow.

- :class:`.OktopostSandbox`: the server (background thread) plus the Python API to steer it.
- :class:`.SandboxClient`: the same API over HTTP, for a sandbox in another process.
- :class:`.Fault`: one injected failure; see also ``OktopostSandbox.set_chaos``.
- ``pytest_plugin``: opt-in fixtures; ``python -m airflow_provider_oktopost.testing``: the CLI.
- ``budget``: the provider's call budget in tests (the resets the plugin uses, for tests of your own too).
"""

from __future__ import annotations

from airflow_provider_oktopost.testing.client import SandboxClient
from airflow_provider_oktopost.testing.faults import CHAOS_KINDS, Fault, LoggedRequest
from airflow_provider_oktopost.testing.server import CONNECTION_ENV_VAR, OktopostSandbox
from airflow_provider_oktopost.testing.state import DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY, SandboxState

__all__ = [
    "CHAOS_KINDS",
    "CONNECTION_ENV_VAR",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_API_KEY",
    "Fault",
    "LoggedRequest",
    "OktopostSandbox",
    "SandboxClient",
    "SandboxState",
]
