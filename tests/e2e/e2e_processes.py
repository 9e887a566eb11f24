"""The OS side of the end-to-end deployment: processes started by process group, and proof none survived.

:class:`ProcessSet` starts named processes under a root directory, each in its own session/process group,
with its own log file and a complete, explicit environment (nothing of the test process's ``AIRFLOW_*``
settings leaks in) plus a marker variable that every child inherits. :meth:`ProcessSet.stop` signals each
group (SIGTERM, then SIGKILL), then looks through ``/proc`` for any process still carrying the marker
(LocalExecutor workers, the triggerer's runner, log servers...), so a leak fails the test run.

It knows nothing of Airflow: ``e2e_deployment`` builds the Airflow deployment on top of it. Also here:
:class:`DeploymentError` (shared by every e2e helper module), free ports and log tails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

STOP_GRACE = 20.0  # seconds between SIGTERM and SIGKILL of a process group
LOG_TAIL_LINES = 60


class DeploymentError(AssertionError):
    """The deployment could not start, or misbehaved; the message carries the diagnosis."""


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"(cannot read {path}: {error})"
    return "\n".join(text.splitlines()[-lines:])


# ---- /proc -----------------------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, process group)`` of a live PID from ``/proc``, ``None`` when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def _has_marker(pid: int, marker: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return marker.encode() in environ.split(b"\0")


def _live_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            stat = _proc_stat(int(entry))
            if stat is not None and stat[0] not in ("Z", "X"):  # zombies are dead, just not reaped yet
                yield int(entry)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    return [pid for pid in _live_pids() if (stat := _proc_stat(pid)) is not None and stat[1] == pgid]


def marked_processes(marker: str) -> list[int]:
    """Live processes started with ``marker`` in their environment (inherited by every child)."""
    return [pid for pid in _live_pids() if _has_marker(pid, marker)]


def describe(pids: list[int]) -> str:
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = "?"
        out.append(f"{pid}: {cmd.strip()[:160]}")
    return "; ".join(out)


# ---- started processes -----------------------------------------------------------------------------------


@dataclass
class Component:
    """One started process: its own session, so its PID is also its process group id."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]

    @property
    def pgid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = STOP_GRACE) -> str:
        """SIGTERM the whole group, SIGKILL it after ``grace``; describes what needed SIGKILL ("" if none)."""
        _signal_group(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if self.popen.poll() is not None and not group_members(self.pgid):
                return ""
            time.sleep(0.2)
        killed = describe(group_members(self.pgid))
        _signal_group(self.pgid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        deadline = time.monotonic() + 10
        while group_members(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        return killed


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


class ProcessSet:
    """Named processes started in ``root``, logging to ``logs``, every one marked with ``marker``.

    ``stop_order`` lists the names to stop first, in that order; any other name is stopped before them.
    """

    stop_order: tuple[str, ...] = ()

    def __init__(self, root: Path, logs: Path, marker: str) -> None:
        self.root = root
        self.logs = logs
        self.marker = marker  # "NAME=value", set in every process's environment
        self.components: dict[str, Component] = {}
        self.stop_times: dict[str, float] = {}
        self.retired: list[Component] = []  # components replaced during a test (a restarted triggerer)

    def base_env(self) -> dict[str, str]:
        """The few host variables a Python process needs; nothing else of this process leaks in."""
        env = {
            key: os.environ[key]
            for key in ("HOME", "LANG", "LC_ALL", "TZ", "USER", "TMPDIR")
            if key in os.environ
        }
        env["PATH"] = os.pathsep.join(
            [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        )
        env["PYTHONUNBUFFERED"] = "1"
        key, value = self.marker.split("=", 1)
        env[key] = value
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Component:
        log_path, number = self.logs / f"{name}.log", 1
        while log_path.exists():  # a restarted component keeps its predecessor's log
            number += 1
            log_path = self.logs / f"{name}-{number}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.root,
                start_new_session=True,  # own process group: stop() signals the whole group
            )
        component = Component(name, argv, log_path, popen)
        self.components[name] = component
        return component

    def check_alive(self) -> None:
        for component in self.components.values():
            if not component.running():
                raise DeploymentError(
                    f"{component.name} (pid {component.pgid}) exited with {component.popen.returncode}\n"
                    + self.diagnosis()
                )

    def stop(self) -> None:
        """Stop every process by process group (SIGTERM, then SIGKILL); fail if any process survived."""
        problems = []
        order = self.stop_order
        for name in sorted(self.components, key=lambda n: order.index(n) if n in order else -1):
            component = self.components[name]
            started = time.monotonic()
            needed_kill = component.stop()
            self.stop_times[name] = round(time.monotonic() - started, 1)
            if needed_kill:
                problems.append(f"{name} needed SIGKILL after {STOP_GRACE:.0f} s: {needed_kill}")
        survivors = marked_processes(self.marker)
        if survivors:
            problems.append(f"processes outside their group survived (now killed): {describe(survivors)}")
        for pid in survivors:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if problems:
            raise DeploymentError("\n".join(problems))

    def diagnosis(self, lines: int = LOG_TAIL_LINES) -> str:
        parts = []
        for component in [*self.retired, *self.components.values()]:
            state = "running" if component.running() else f"exited {component.popen.returncode}"
            parts.append(f"----- {component.log_path.name} ({state}), last {lines} lines -----")
            parts.append(tail(component.log_path, lines))
        return "\n".join(parts)
