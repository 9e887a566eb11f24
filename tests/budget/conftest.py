"""Fixtures for the shared-budget tests: a real ``redis-server`` of our own, and a fast-minute sandbox.

Every test here uses REAL processes (``multiprocessing`` with ``spawn``): each is a fresh interpreter with
its own memory, as task processes and triggerers are, so anything they agree on went through the store.
The sandbox and the budget both count a short window (``WINDOW`` seconds instead of 60), so a test sees
several "minutes" in seconds; nothing else about the limits changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from budget_support import SANDBOX_LIMIT, WINDOW, start_redis, stop

from airflow_provider_oktopost.testing import OktopostSandbox


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server on a free port of 127.0.0.1, in a temporary directory, for this session.

    ``scripts/test.sh`` installs Debian's ``redis-server`` when it is missing (``ensure_redis``).
    """
    directory: Path = tmp_path_factory.mktemp("redis")
    try:
        process, port = start_redis(directory)
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The session's redis-server, emptied of the provider's keys for this test (a server the tests made:
    nothing else ever empties a Redis, not even the testing tools' ``reset_budgets``)."""
    from budget_support import empty_redis

    empty_redis(redis_server_url)
    return redis_server_url


@pytest.fixture
def fast_sandbox(oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    """The reset sandbox enforcing ``SANDBOX_LIMIT`` calls per ``WINDOW`` seconds, then a 30 s block; the
    budget counts over the same ``WINDOW`` in this process and in every process it starts (test-only)."""
    from airflow_provider_oktopost._core.budget.settings import TESTING_WINDOW_ENV

    monkeypatch.setenv(TESTING_WINDOW_ENV, str(WINDOW))
    oktopost_sandbox.configure(
        rate_limit_per_minute=SANDBOX_LIMIT, rate_window_seconds=WINDOW, block_seconds=30.0
    )
    return oktopost_sandbox
