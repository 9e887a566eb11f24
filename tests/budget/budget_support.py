"""Constants and helpers of the shared-budget tests (a module of its own: test modules cannot import
``conftest`` reliably, since every test directory's ``conftest.py`` has the same module name)."""

from __future__ import annotations

import socket

#: The sandbox's "minute" in these tests, and the budget's.
WINDOW = 2.5
#: Calls the sandbox admits per window (Oktopost: 60 a minute), and the budget's share of them: a wider
#: margin than 50 of 60, since a short window makes arrival jitter on a busy machine count for more.
SANDBOX_LIMIT = 12
BUDGET_LIMIT = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
