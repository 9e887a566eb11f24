"""What the processes of the shared-budget tests run (a module of its own: ``spawn`` imports it by name)."""

from __future__ import annotations

import os
import time
from multiprocessing.queues import Queue
from typing import Any


def call_me(conn_json: str, calls: int, start_at: float, out: Queue[Any], skew: float = 0.0) -> None:
    """Like a task process: an ``OktopostHook`` on ``oktopost_default`` making ``calls`` calls.

    Starts at ``start_at`` (so that every process starts together) and reports ``(pid, outcomes, ended)``:
    for each call ``"ok"`` or the error's class name and message, and when its last call returned.
    """
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = conn_json
    from airflow_provider_oktopost._core import clock
    from airflow_provider_oktopost.exceptions import OktopostError
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    if skew:  # this "machine's" clock is ``skew`` seconds off (patch time, not the network)
        clock.wall = lambda: time.time() + skew  # type: ignore[assignment]
    hook = OktopostHook()
    _ = hook.config  # look the connection up before the start, like a task that is already running
    time.sleep(max(0.0, start_at - time.time()))
    outcomes: list[str] = []
    for _ in range(calls):
        try:
            hook.get_me()
            outcomes.append("ok")
        except OktopostError as error:
            outcomes.append(f"{type(error).__name__}: {error}")
    ended = time.time()
    hook.close()
    out.put((os.getpid(), outcomes, ended))


def task_process(conn_json: str, calls: int, env: dict[str, str | None], start_at: float) -> dict[str, Any]:
    """Like one task try in a deployment: ``env`` applied (None: unset), ``calls`` calls through a hook.

    Returns what the task saw: each call's outcome, when each call returned, and every line the provider's
    budget logged at WARNING or above (``said``: at any level; ``all_logs``: every log line of the process
    at DEBUG, and the reprs of the budget, its store, settings and the connection's config).
    """
    import io
    import logging

    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = conn_json
    everything = io.StringIO()
    handler = logging.StreamHandler(everything)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    warnings: list[str] = []
    said: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())

    budget_log = logging.getLogger("airflow_provider_oktopost.budget")
    budget_log.addHandler(Collect(logging.DEBUG))
    budget_log.setLevel(logging.DEBUG)
    from airflow_provider_oktopost.exceptions import OktopostError
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    hook = OktopostHook()
    _ = hook.config
    time.sleep(max(0.0, start_at - time.time()))
    outcomes: list[str] = []
    returned: list[float] = []
    for _ in range(calls):
        try:
            hook.get_me()
            outcomes.append("ok")
        except OktopostError as error:
            outcomes.append(f"{type(error).__name__}: {error}")
        returned.append(time.time())
    budget = hook._context.budget
    shown = [repr(budget), repr(budget.store), repr(budget.settings), repr(hook.config)]
    hook.close()
    root.removeHandler(handler)
    return {
        "pid": os.getpid(),
        "outcomes": outcomes,
        "returned": returned,
        "warnings": warnings,
        "said": said,
        "all_logs": everything.getvalue() + "\n".join(said + shown),
    }
