"""``OktopostIntegrationChangeTrigger``: start DAGs when an integration changes (an ``AssetWatcher`` trigger).

::

    from airflow.sdk import AssetWatcher
    from airflow_provider_oktopost.assets import integrations_asset
    from airflow_provider_oktopost.triggers.watcher import OktopostIntegrationChangeTrigger

    broken = integrations_asset(
        "001000000000001",
        watchers=[
            AssetWatcher(
                name="oktopost_broken",
                trigger=OktopostIntegrationChangeTrigger(changes=["invalid", "disabled"]),
            )
        ],
    )
    with DAG("remediate", schedule=[broken]): ...

The trigger compares complete listings of the account (read through the account's shared poller and call
budget, ``_poller``) and fires one event per *change*, never per poll: an integration that stays invalid
is reported once, when it becomes invalid. A change is one of :data:`CHANGES`; the payload says which
integration, what changed and from what to what (:func:`detect_changes`).

**Only real changes fire.** An integration missing from one listing is reported as ``disappeared`` only when
the next listing misses it too: a listing is read page by page (offset paging), and a delete that lands
while it is paged shifts the integrations after it one place up, so one of them falls between two pages and
is missing from that listing although it still exists. So a real delete fires one ``poll_interval`` after
the listing that first missed it, and a shifted integration never fires.

The first listing after the trigger starts for the first time is the baseline: nothing fires for it. What
was last reported is saved after every listing (``_watch_state``: the triggerer's asset state store on
Airflow 3.3+, a local file on 3.0 to 3.2), so a restarted trigger compares its first listing with what it
saw before the restart: a change made while it was down fires once, a change already reported does not
fire again. The state is saved a few seconds after the events of a listing are handed to the triggerer
(:data:`SAVE_DELAY`), so that a triggerer stopping in between reports them again rather than losing them.
The state is keyed by what the trigger watches, not by its ``poll_interval``: changing the interval keeps it
(:attr:`OktopostIntegrationChangeTrigger.state_key`; state saved under the older key, which included the
interval, is read once as a fallback). A state store that fails (a read-only ``$AIRFLOW_HOME``, an error
from the triggerer's ``asset_state_store``) is logged as an error and the trigger watches on: a read that
fails starts from a fresh baseline, a save that fails leaves the last saved state in place.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.driver import redact
from airflow_provider_oktopost.models import Integration
from airflow_provider_oktopost.triggers._watch_state import WatchStateStore

#: The changes a watcher can fire on: the status or state it became, or the integration (dis)appearing.
CHANGES = ("invalid", "valid", "disabled", "active", "appeared", "disappeared")
#: Seconds between handing a listing's events to the triggerer and saving them as reported: longer than the
#: triggerer's one-second loop that passes events on to the scheduler.
SAVE_DELAY = 3.0
#: Seconds to wait before trying again when the connection cannot be looked up.
CONFIG_RETRY = 30.0

Seen = dict[str, dict[str, Any]]


def _fields(integration: Integration) -> dict[str, Any]:
    data = integration.to_dict()
    return {key: data[key] for key in ("id", "type", "cname_id", "status", "state")}


def snapshot(integrations: Iterable[Integration]) -> Seen:
    """What a watcher remembers of a listing: Id -> Id, type, CNAME, status, state (nothing else)."""
    return {item.id: _fields(item) for item in integrations if item.id}


def detect_changes(
    before: Seen,
    after: Seen,
    changes: Sequence[str] = CHANGES,
    *,
    integration_ids: Sequence[str] | None = None,
    cname_id: str | None = None,
) -> list[dict[str, Any]]:
    """The edges between two snapshots, as event payloads, in a stable order (Id, then change).

    Each payload: ``change`` (one of ``changes``), ``integration_id``, ``field`` (``status``, ``state`` or
    ``presence``), ``from`` and ``to``, and ``integration`` (what was seen last: Id, type, CNAME, status,
    state). An integration is considered when its Id is in ``integration_ids`` and its CNAME is ``cname_id``
    (before or after the change), when those are given.
    """
    payloads: list[dict[str, Any]] = []
    wanted = set(changes)
    for integration_id in sorted(set(before) | set(after)):
        old, new = before.get(integration_id), after.get(integration_id)
        if integration_ids is not None and integration_id not in integration_ids:
            continue
        if cname_id is not None and cname_id not in {
            (old or {}).get("cname_id"),
            (new or {}).get("cname_id"),
        }:
            continue
        found: list[tuple[str, str, Any, Any]] = []
        if old is None and new is not None:
            found.append(("appeared", "presence", "absent", "present"))
        elif old is not None and new is None:
            found.append(("disappeared", "presence", "present", "absent"))
        elif old is not None and new is not None:
            for name in ("status", "state"):
                if old.get(name) != new.get(name) and isinstance(new.get(name), str):
                    found.append((str(new[name]), name, old.get(name), new.get(name)))
        for change, name, was, now in found:
            if change in wanted:
                payloads.append(
                    {
                        "change": change,
                        "integration_id": integration_id,
                        "field": name,
                        "from": was,
                        "to": now,
                        "integration": dict(new or old or {}),
                    }
                )
    return payloads


def _sorted_unique(name: str, values: Iterable[str] | str | None, allowed: Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    for value in items:
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            raise ValueError(f"{name} must be a list of {', '.join(allowed or ('strings',))}; got {value!r}")
    return sorted(set(items))


class OktopostIntegrationChangeTrigger(BaseEventTrigger):
    """Fire when an integration of the account changes; for ``AssetWatcher`` (see the module docstring).

    The serialized kwargs are normalised (sorted lists, floats), so the same watcher declared on two DAGs is
    one trigger in the triggerer.

    :param oktopost_conn_id: The ``oktopost`` connection (the account to watch).
    :param changes: Which changes fire: any of ``invalid``, ``valid``, ``disabled``, ``active``,
        ``appeared``, ``disappeared`` (default: all).
    :param integration_type: Only integrations of this type (the listing is filtered by type).
    :param cname_id: Only integrations on this CNAME.
    :param integration_ids: Only these integrations.
    :param poll_interval: Seconds between listings (shared with the account's other triggers: the poller
        lists at the shortest interval any of them asks for).
    """

    def __init__(
        self,
        oktopost_conn_id: str = "oktopost_default",
        *,
        changes: Sequence[str] | str = CHANGES,
        integration_type: str | None = None,
        cname_id: str | None = None,
        integration_ids: Sequence[str] | str | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        from airflow_provider_oktopost._core import wire

        super().__init__()  # type: ignore[no-untyped-call]
        self.oktopost_conn_id = oktopost_conn_id
        self.changes = _sorted_unique("changes", changes, CHANGES)
        if not self.changes:
            raise ValueError(f"changes must name at least one of {', '.join(CHANGES)}")
        self.integration_type = (
            None if integration_type is None else wire.require_type("integration_type", integration_type)
        )
        self.cname_id = None if cname_id is None else wire.require_id("cname_id", cname_id)
        ids = _sorted_unique("integration_ids", integration_ids, None)
        self.integration_ids = [wire.require_id("integration_ids", value) for value in ids] or None
        self.poll_interval = float(poll_interval)
        if self.poll_interval < 1:
            raise ValueError(f"poll_interval must be at least 1 second, got {poll_interval!r}")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain, normalised JSON values: equal watchers serialize equally (one trigger)."""
        return (
            f"{__name__}.{type(self).__name__}",
            {
                "oktopost_conn_id": self.oktopost_conn_id,
                "changes": list(self.changes),
                "integration_type": self.integration_type,
                "cname_id": self.cname_id,
                "integration_ids": None if self.integration_ids is None else list(self.integration_ids),
                "poll_interval": self.poll_interval,
            },
        )

    @property
    def state_key(self) -> str:
        """The key of this watcher's state: a digest of what it watches (its kwargs but ``poll_interval``).

        How often it looks does not change what it saw, so changing ``poll_interval`` keeps the state.
        """
        _, kwargs = self.serialize()
        kwargs.pop("poll_interval")
        digest = hashlib.sha256(json.dumps(kwargs, sort_keys=True).encode()).hexdigest()[:16]
        return f"oktopost_watch_{digest}"

    @property
    def legacy_state_key(self) -> str:
        """The key earlier releases used (a digest of every kwarg, ``poll_interval`` included)."""
        _, kwargs = self.serialize()
        digest = hashlib.sha256(json.dumps(kwargs, sort_keys=True).encode()).hexdigest()[:16]
        return f"oktopost_watch_{digest}"

    async def _load_state(self) -> tuple[WatchStateStore, dict[str, Any] | None]:
        """The store and the saved state; a failing store is logged and leaves a fresh baseline."""
        from airflow_provider_oktopost.triggers._watch_state import MemoryStateStore, store_for

        try:
            store = store_for(self, self.state_key)
        except Exception as error:
            self.log.error(
                "Cannot open the watcher's state store (%s); keeping its state in memory only: a restart "
                "starts from a fresh baseline",
                error,
            )
            return MemoryStateStore(), None
        try:
            saved = await store.load()
            if saved is None and self.legacy_state_key != self.state_key:
                saved = await store_for(self, self.legacy_state_key).load()
        except Exception as error:
            self.log.error(
                "Cannot read the watcher's saved state from %s (%s); starting from a fresh baseline: changes "
                "made while no trigger watched are not reported",
                type(store).__name__,
                error,
            )
            saved = None
        return store, saved

    async def _save_state(self, store: WatchStateStore, seen: Seen) -> None:
        try:
            await store.save({"version": 1, "snapshot": seen, "saved_at": clock.wall()})
        except Exception as error:
            self.log.error(
                "Cannot save the watcher's state to %s (%s); watching on. A restart now would compare with "
                "the last state saved, and may report changes again",
                type(store).__name__,
                error,
            )

    def _describe(self) -> str:
        narrowed = [f"{k}={v}" for k, v in (("type", self.integration_type), ("cname", self.cname_id)) if v]
        if self.integration_ids:
            narrowed.append(f"ids={','.join(self.integration_ids)}")
        return f"changes={','.join(self.changes)}" + (f" ({', '.join(narrowed)})" if narrowed else "")

    def _event(self, payload: Mapping[str, Any], account_id: str) -> TriggerEvent:
        data = {**payload, "account_id": account_id, "observed_at": clock.wall()}
        data["integration"] = {**data["integration"], "account_id": account_id}
        return TriggerEvent(data)  # type: ignore[no-untyped-call]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_oktopost.exceptions import OktopostError
        from airflow_provider_oktopost.hooks.oktopost_async import aget_client_config
        from airflow_provider_oktopost.triggers._poller import listen

        started = clock.monotonic()
        while True:
            try:
                config = await aget_client_config(self.oktopost_conn_id)
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a watcher has no one to report to: log, and try again
                self.log.error("Cannot look up connection %r: %s", self.oktopost_conn_id, error)
                await clock.async_sleep(CONFIG_RETRY)
        secrets = config.secrets
        looked_up = clock.monotonic()
        store, saved = await self._load_state()
        self.log.info(
            "Connection looked up in %.1fs; state read from %s in %.1fs",
            looked_up - started,
            type(store).__name__,
            clock.monotonic() - looked_up,
        )
        before: Seen | None = saved["snapshot"] if saved else None
        #: Missing from the last listing, not yet from two in a row: not reported yet (module docs).
        missing: set[str] = set()
        self.log.info(
            "Watching Oktopost account %s for %s; %s",
            config.account_id,
            self._describe(),
            f"resuming from {len(before)} integration(s) seen before"
            if before is not None
            else "no state yet",
        )
        async with listen(
            config, integration_type=self.integration_type, poll_interval=self.poll_interval
        ) as listener:
            while True:
                try:
                    listing = await listener.next_listing()
                except asyncio.CancelledError:
                    raise
                except OktopostError as error:
                    self.log.warning(
                        "Listing integrations failed, will try again: %s", redact(str(error), secrets)
                    )
                    continue
                after = snapshot(listing)
                if before is None:
                    self.log.info("Baseline: %d integration(s); changes from now on fire", len(after))
                    payloads = []
                else:
                    after, missing = self._confirm_missing(before, after, missing)
                    payloads = detect_changes(
                        before,
                        after,
                        self.changes,
                        integration_ids=self.integration_ids,
                        cname_id=self.cname_id,
                    )
                for payload in payloads:
                    self.log.info(
                        "Integration %s: %s changed from %r to %r",
                        payload["integration_id"],
                        payload["field"],
                        payload["from"],
                        payload["to"],
                    )
                    yield self._event(payload, config.account_id)
                if payloads:
                    await clock.async_sleep(SAVE_DELAY)
                if payloads or after != before:
                    await self._save_state(store, after)
                before = after

    def _confirm_missing(self, before: Seen, after: Seen, missing: set[str]) -> tuple[Seen, set[str]]:
        """``after`` with the integrations missing for the first time kept as last seen, and those Ids.

        An integration missing from two listings in a row is gone; one missing from this listing only may
        have slipped between two pages while the listing was read (module docs), so it is kept until the
        next listing tells.
        """
        first_time = {integration_id for integration_id in before if integration_id not in after} - missing
        if first_time:
            self.log.info(
                "%d integration(s) missing from this listing (%s); reported as disappeared only if the next "
                "listing misses them too",
                len(first_time),
                ", ".join(sorted(first_time)[:10]),
            )
        return {
            **after,
            **{integration_id: before[integration_id] for integration_id in first_time},
        }, first_time


__all__ = ["CHANGES", "OktopostIntegrationChangeTrigger", "detect_changes", "snapshot"]
