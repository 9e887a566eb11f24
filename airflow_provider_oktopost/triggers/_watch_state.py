"""Where an integration watcher keeps what it last reported, so a triggerer restart neither repeats nor
loses a change.

- Airflow 3.3+: the triggerer injects ``asset_state_store`` into every event trigger that watches assets;
  it is kept in the metadata database (per asset), so it survives restarts and moves with the trigger to
  another triggerer host. :class:`AssetStateStore` writes the state to every asset the trigger watches and
  reads the newest copy back.
- Airflow 3.0 to 3.2 have no such store, and their triggerer cannot write Variables. :class:`FileStateStore`
  keeps the state in a JSON file under ``[oktopost] watcher_state_dir`` (default
  ``$AIRFLOW_HOME/oktopost/watcher-state``): it survives a restart of a triggerer on the same host (or a
  shared volume); a triggerer on another host starts from a fresh baseline, so changes made while no
  triggerer watched are not reported there (never reported twice either).
- :class:`MemoryStateStore` keeps nothing across processes (tests, or as a last resort).

Files are read and written in a worker thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("airflow_provider_oktopost.watcher")

#: The state document's schema version; a state of another version is ignored (a fresh baseline).
VERSION = 1


class WatchStateStore(Protocol):
    """Load and save one watcher's state document (a JSON object)."""

    async def load(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is none."""
        ...

    async def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state."""
        ...


def _usable(value: object) -> dict[str, Any] | None:
    if (
        isinstance(value, dict)
        and value.get("version") == VERSION
        and isinstance(value.get("snapshot"), dict)
    ):
        return value
    return None


class MemoryStateStore:
    """Keeps the state in this object only."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None

    async def load(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is none (see ``WatchStateStore``)."""
        return _usable(self.state)

    async def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state (see ``WatchStateStore``)."""
        self.state = json.loads(json.dumps(state))


class FileStateStore:
    """One JSON file per watcher; replaced atomically (write to a temporary file, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any] | None:
        try:
            return _usable(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return None

    def _write(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(state, handle)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def load(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is none (see ``WatchStateStore``)."""
        return await asyncio.to_thread(self._read)

    async def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state (see ``WatchStateStore``)."""
        await asyncio.to_thread(self._write, state)


class AssetStateStore:
    """The triggerer's ``asset_state_store`` (Airflow 3.3+), under ``key`` on every watched asset."""

    def __init__(self, accessors: Any, key: str) -> None:
        self.key = key
        # AssetStateStoreAccessors offers get/set directly only for a single asset, and no public way to
        # list its per-asset accessors; a trigger shared by several assets (the same watcher on several
        # DAGs' assets) must write each of them. So its private ``_by_name``/``_by_uri`` are read here,
        # pinned by tests/triggers/test_watcher_changes.py on Airflow 3.3 (it fails when they change), and
        # logged when missing (the single-asset API then serves one asset; with several it raises, which
        # the watcher logs).
        per_asset = [
            *getattr(accessors, "_by_name", {}).values(),
            *getattr(accessors, "_by_uri", {}).values(),
        ]
        if not per_asset:
            log.warning(
                "The triggerer's asset_state_store (%s) has no per-asset accessors this provider knows; "
                "using its single-asset API",
                type(accessors).__name__,
            )
        self._accessors: list[Any] = per_asset or [accessors]

    async def load(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is none (see ``WatchStateStore``)."""
        found = [_usable(await accessor.aget(self.key)) for accessor in self._accessors]
        states = [state for state in found if state is not None]
        return max(states, key=lambda state: float(state.get("saved_at") or 0), default=None)

    async def save(self, state: dict[str, Any]) -> None:
        """Replace the saved state (see ``WatchStateStore``)."""
        for accessor in self._accessors:
            await accessor.aset(self.key, state)


def default_state_dir() -> Path:
    """``[oktopost] watcher_state_dir``, or ``$AIRFLOW_HOME/oktopost/watcher-state``."""
    from airflow_provider_oktopost._core.budget.settings import airflow_option

    configured = airflow_option("watcher_state_dir")
    if configured:
        return Path(configured)
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "oktopost" / "watcher-state"


def store_for(trigger: Any, key: str) -> WatchStateStore:
    """The best store this Airflow offers the trigger (see the module docstring)."""
    accessors = getattr(trigger, "asset_state_store", None)
    if accessors is not None:
        return AssetStateStore(accessors, key)
    return FileStateStore(default_state_dir() / f"{key}.json")


__all__ = [
    "AssetStateStore",
    "FileStateStore",
    "MemoryStateStore",
    "WatchStateStore",
    "default_state_dir",
    "store_for",
]
