"""Fixtures for the shared-budget tests: a real ``redis-server`` of our own, and a fast-minute sandbox.

Every test here uses REAL processes (``multiprocessing`` with ``spawn``): each is a fresh interpreter with
its own memory, as task processes and triggerers are, so anything they agree on went through the store.
The sandbox and the budget both count a short window (``WINDOW`` seconds instead of 60), so a test sees
several "minutes" in seconds; nothing else about the limits changes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from budget_support import SANDBOX_LIMIT, WINDOW, free_port

from airflow_provider_oktopost.testing import OktopostSandbox


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server on a free port of 127.0.0.1, in a temporary directory, for this session.

    ``scripts/test.sh`` installs Debian's ``redis-server`` when it is missing (``ensure_redis``).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run scripts/test.sh (ensure_redis in scripts/env.sh)")
    directory: Path = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def fast_sandbox(oktopost_sandbox: OktopostSandbox) -> OktopostSandbox:
    """The reset sandbox enforcing ``SANDBOX_LIMIT`` calls per ``WINDOW`` seconds, then a 30 s block."""
    oktopost_sandbox.configure(
        rate_limit_per_minute=SANDBOX_LIMIT, rate_window_seconds=WINDOW, block_seconds=30.0
    )
    return oktopost_sandbox
