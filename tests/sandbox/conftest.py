"""Fixtures for the sandbox's own tests.

The plugin's fixtures (``oktopost_sandbox`` and friends) come from the root conftest's ``pytest_plugins``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
import requests

from airflow_provider_oktopost.testing import OktopostSandbox


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> OktopostSandbox:
    """Short name for the plugin's ``oktopost_sandbox`` (the reset, session-wide sandbox)."""
    return cast(OktopostSandbox, request.getfixturevalue("oktopost_sandbox"))


@pytest.fixture
def api(sandbox: OktopostSandbox) -> Iterator[requests.Session]:
    """A keep-alive ``requests`` session with the sandbox's credentials."""
    with requests.Session() as session:
        session.auth = (sandbox.account_id, sandbox.api_key)
        yield session
