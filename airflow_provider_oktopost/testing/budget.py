"""The provider's call budget in tests: a store of the session's own, and resets that never touch another.

The budget keeps one object per account in each process and counts calls in a store every process of the
deployment shares (see docs/deploying.md). Tests that run many calls against the sandbox would use up its
minute, and tests must never empty a store a live deployment uses (a 15-minute block recorded there after a
429 must survive a test run). So:

- :func:`use_private_directory` marks a directory as the session's own (the pytest plugin's
  ``oktopost_private_budget`` fixture makes one and points the ``[oktopost]`` budget options at it);
- :func:`reset_budgets` forgets every budget and store object of this process, and empties the budget file of
  every directory so marked. It never empties anything else: a Redis server, the deployment's machine-wide
  file, or a file elsewhere that a connection's extras name keep what they hold.

The pytest plugin (:mod:`.pytest_plugin`) calls both; a test of your own may call :func:`reset_budgets` too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from airflow_provider_oktopost._core.budget import registry, selection
from airflow_provider_oktopost._core.budget.local_disk import BUSY_TIMEOUT, FILE_NAME, LocalDiskStore

#: The directories marked with :func:`use_private_directory` (resolved).
_private: set[Path] = set()


def use_private_directory(directory: str | Path) -> None:
    """Mark ``directory`` as the test session's own: :func:`reset_budgets` empties the budget files in it."""
    _private.add(Path(directory).expanduser().resolve())


def _is_private(path: Path) -> bool:
    resolved = path.expanduser().resolve()
    return any(d in _private for d in (resolved, *resolved.parents))


def reset_budgets() -> None:
    """Forget every budget of this process, and empty the budget files of the session's own directories.

    The next call opens its store and budget again, from the configuration then in force. In-memory budgets
    are simply forgotten. A store the session did not make (Redis, a file outside the directories marked
    with :func:`use_private_directory`) is never emptied.
    """
    with registry.LOCK:
        files = {d / FILE_NAME for d in _private}
        files |= {s.path for s in registry.STORES.values() if isinstance(s, LocalDiskStore)}
        for path in sorted(files):
            if _is_private(path.parent):
                empty_budget_file(path)
        registry.BUDGETS.clear()
        registry.STORES.clear()
        selection.ANNOUNCED.clear()


def empty_budget_file(path: str | Path) -> None:
    """Delete every row of a local budget file (calls, blocks, days, listings, account notes), if it exists.

    Every table, in one write transaction, so that a process using the file meanwhile sees it whole or empty.
    Only for a file a test made: nothing in the provider ever calls it.
    """
    path = Path(path)
    if not path.exists():
        return
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            tables = [str(t) for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')  # noqa: S608 - the file's own table names
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


__all__ = ["empty_budget_file", "reset_budgets", "use_private_directory"]
