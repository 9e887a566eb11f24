"""What the processes of the shared-budget tests run (a module of its own: ``spawn`` imports it by name)."""

from __future__ import annotations

import os
import time
from multiprocessing.queues import Queue
from typing import Any


def call_me(conn_json: str, calls: int, start_at: float, out: Queue[Any]) -> None:
    """Like a task process: an ``OktopostHook`` on ``oktopost_default`` making ``calls`` calls.

    Starts at ``start_at`` (so that every process starts together) and reports ``(pid, outcomes)``: for each
    call ``"ok"`` or the error's class name and message.
    """
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = conn_json
    from airflow_provider_oktopost.exceptions import OktopostError
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

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
    hook.close()
    out.put((os.getpid(), outcomes))
