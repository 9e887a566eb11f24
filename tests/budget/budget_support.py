"""Constants and helpers of the shared-budget tests (a module of its own: test modules cannot import
``conftest`` reliably, since every test directory's ``conftest.py`` has the same module name).

The shipped stores have no way to forget everything (a deployment's store is never emptied); a test that
made its own store (a file in its ``tmp_path``, the session's own redis-server) empties it with
:func:`empty`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

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


def start_redis(directory: Path, *extra: str, attempts: int = 3) -> tuple[subprocess.Popen[bytes], int]:
    """A real ``redis-server`` on a free port of 127.0.0.1 (``extra``: more options); (process, port).

    A port found free can be taken (as another connection's source port, say) before the server binds
    it: the server then exits, and it is started again on another port.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed: run scripts/test.sh (ensure_redis in scripts/env.sh)"
        )
    for _ in range(attempts):
        port = free_port()
        options = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
        options += ["--appendonly", "no", "--protected-mode", "yes", *extra]
        process = subprocess.Popen([binary, *options], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if _answers(process, port):
            return process, port
        process.kill()
        process.wait()
    raise RuntimeError("redis-server did not start")


def _answers(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether our server (not another process that took the port) answers PING within 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(16)  # +PONG, or -NOAUTH when the server requires a password
            if reply.startswith((b"+PONG", b"-NOAUTH")) and process.poll() is None:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)


def busiest_window(times: list[float], window: float = WINDOW) -> int:
    """The most of ``times`` in any ``window``-second span."""
    times = sorted(times)
    return max((sum(1 for t in times if start <= t < start + window) for start in times), default=0)


def empty_redis(url: str) -> None:
    """Delete the provider's keys (``oktopost:*``) from a Redis server the tests started."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for name in client.scan_iter(match="oktopost:*"):
            client.delete(name)
    finally:
        client.close()


def empty(store: Any) -> None:
    """Forget every account of ``store``, a store this test made (its own file, its own server)."""
    # Imported here, not at the top: the conftest imports this module, and the Redis store imports Airflow
    # (its errors are Airflow exceptions); Airflow imported from a conftest sent the task logs of a later
    # dag.test past pytest's capfd (tests/reliability/test_secrets_audit.py then saw none).
    from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
    from airflow_provider_oktopost._core.budget.memory import MemoryStore
    from airflow_provider_oktopost._core.budget.redis_server import RedisStore
    from airflow_provider_oktopost.testing.budget import empty_budget_file

    if isinstance(store, LocalDiskStore):
        empty_budget_file(store.path)
    elif isinstance(store, RedisStore):
        empty_redis(store.url)
    elif isinstance(store, MemoryStore):
        store.__init__()  # type: ignore[misc]  # a fresh store's state, in place
    else:
        raise TypeError(f"not a budget store: {store!r}")
