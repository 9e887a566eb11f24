"""The sandbox's in-memory model of one Oktopost deployment, with no HTTP in it.

Everything that a test may want to inspect or steer lives here: accounts, integrations, the clock,
the rate limiter, pending faults, chaos mode and the request log. The HTTP app runs in a background
thread while the test thread reads and changes this object, so every public method takes one
``threading.RLock``; methods return copies, never live internals.

Time always comes from :meth:`SandboxState.now` (real time plus an offset) so that tests can jump over a
validation delay or a 15-minute rate-limit block with :meth:`SandboxState.advance` instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from airflow_provider_oktopost.testing._accounts import AccountRules
from airflow_provider_oktopost.testing._cnames import CnameStore
from airflow_provider_oktopost.testing._partner_store import PartnerStore
from airflow_provider_oktopost.testing._records import DEFAULT_CNAME_ID, IdFactory, IntegrationRecord
from airflow_provider_oktopost.testing._traffic import FaultQueue, RateLimiter
from airflow_provider_oktopost.testing.config import UNSET, SandboxConfig, Unset
from airflow_provider_oktopost.testing.faults import CHAOS_KINDS, Fault, LoggedRequest, count_requests

DEFAULT_ACCOUNT_ID = "001sandbox00001"
DEFAULT_API_KEY = "sandbox-api-key"

AuthOutcome = Literal["ok", "unauthorized", "forbidden"]


class SandboxState(AccountRules):
    """Thread-safe state of one sandbox: see the module docstring for why it is shaped this way."""

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        api_key: str = DEFAULT_API_KEY,
        *,
        validation_delay: float = 0.0,
        rate_limit_per_minute: int | None = 60,
        block_seconds: float = 900.0,
        id_seed: int | None = None,
        rate_window_seconds: float = 60.0,
    ) -> None:
        self._lock = threading.RLock()
        self.account_id = account_id
        self.api_key = api_key
        self._accounts: dict[str, str] = {account_id: api_key}
        self._initial_config = SandboxConfig(
            validation_delay,
            rate_limit_per_minute,
            block_seconds,
            rate_window_seconds=rate_window_seconds,
        )
        self._config = self._initial_config
        self._ids = IdFactory(id_seed)
        self.generation = 0
        self._clear()
        self._init_accounts()

    def _clear(self) -> None:
        self._integrations: dict[str, IntegrationRecord] = {}
        #: The CNAMEs (``/v2/cname``); cleared with everything else by :meth:`reset`.
        self.cnames = CnameStore(self._lock, self._ids, self.now, self.account_id)
        #: The partner API's managed accounts (``/account``, :mod:`.partner`); cleared by :meth:`reset`.
        self.partners = PartnerStore(self._lock, self._ids, self.now, self.add_account)
        self._faults = FaultQueue()
        self._limiter = RateLimiter()
        self._log: list[LoggedRequest] = []
        self._request_total = 0
        self._offset = 0.0
        self._holding = False  # see hold_validation
        self._held: set[str] = set()
        self.generation += 1

    def reset(self, *, restore_config: bool = False) -> None:
        """Forget integrations, faults, chaos, the log, counters, rate-limit windows and the clock offset.

        Accounts and config are kept, so a long-running sandbox keeps its shape; ``restore_config=True``
        also returns to the constructor's config (what per-test fixtures want, so that one test's
        ``configure()`` cannot leak into the next). Bumping ``generation`` makes requests still in flight
        (a ``delay`` fault) drop out instead of writing into the fresh state.
        """
        with self._lock:
            self._clear()
            if restore_config:
                self._config = self._initial_config
                self.clear_account_rate_limits()

    def interrupt(self) -> None:
        """Make in-flight delayed requests give up now (used by a quick server stop)."""
        with self._lock:
            self.generation += 1

    # -- configuration, accounts, clock ---------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        """The current (immutable) config."""
        with self._lock:
            return self._config

    def configure(
        self,
        *,
        validation_delay: float | Unset = UNSET,
        rate_limit_per_minute: int | Unset | None = UNSET,
        block_seconds: float | Unset = UNSET,
        forbidden_keys: Iterable[str] | Unset = UNSET,
        rate_window_seconds: float | Unset = UNSET,
    ) -> SandboxConfig:
        """Change some settings; the validation delay applies lazily, also to existing integrations.

        ``forbidden_keys``: API keys answered with 403 ("API access is disabled") under any known account.
        """
        changes: dict[str, Any] = {}
        if not isinstance(validation_delay, Unset):
            changes["validation_delay"] = float(validation_delay)
        if not isinstance(rate_limit_per_minute, Unset):
            changes["rate_limit_per_minute"] = rate_limit_per_minute
        if not isinstance(block_seconds, Unset):
            changes["block_seconds"] = float(block_seconds)
        if not isinstance(forbidden_keys, Unset):
            changes["forbidden_keys"] = frozenset(forbidden_keys)
        if not isinstance(rate_window_seconds, Unset):
            changes["rate_window_seconds"] = float(rate_window_seconds)
        with self._lock:
            self._config = replace(self._config, **changes)
            return self._config

    def add_account(self, account_id: str, api_key: str) -> None:
        """Accept another Basic-auth pair; each account sees only its own integrations."""
        with self._lock:
            self._accounts[account_id] = api_key

    def authenticate(self, username: str | None, password: str | None) -> AuthOutcome:
        """``unauthorized`` (401) for an unknown pair, ``forbidden`` (403) for a key in ``forbidden_keys``."""
        with self._lock:
            if username is None or password is None or username not in self._accounts:
                return "unauthorized"
            if password in self._config.forbidden_keys:
                return "forbidden"
            return "ok" if self._accounts[username] == password else "unauthorized"

    def now(self) -> float:
        """Sandbox time in epoch seconds: real time plus whatever :meth:`advance` added."""
        with self._lock:
            return time.time() + self._offset

    @property
    def clock_offset(self) -> float:
        """Seconds added to real time so far."""
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward (never back: windows and blocks assume monotonic time)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self.now()

    # -- rate limit, faults, chaos ---------------------------------------------------------------------

    def admit_call(self, api_key: str, account_id: str | None = None) -> bool:
        """Count one authenticated call against its key; ``False`` means answer 429 (see ``RateLimiter``).

        The limit is the account's own (``set_account_rate_limit``), else the sandbox's.
        """
        with self._lock:
            config = self._config
            return self._limiter.admit(
                api_key,
                self.now(),
                self.rate_limit_for(account_id),
                config.block_seconds,
                config.rate_window_seconds,
            )

    @property
    def rate_limited_count(self) -> int:
        """How many 429s the rate limiter (not an injected fault) has sent since the last reset."""
        with self._lock:
            return self._limiter.refused

    def inject(self, *faults: Fault) -> None:
        """Queue faults; among those matching a request, the oldest is used first (FIFO)."""
        with self._lock:
            self._faults.inject(faults)

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults not yet used up, with ``times`` showing what is left."""
        with self._lock:
            return self._faults.pending

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def set_chaos(self, rate: float, seed: int | None = None, kinds: Sequence[str] = CHAOS_KINDS) -> None:
        """Replace a ``rate`` fraction of ``/v2`` responses with transient faults (see ``FaultQueue``)."""
        with self._lock:
            self._faults.set_chaos(rate, seed, kinds)

    def next_fault(self, method: str, path: str) -> tuple[Fault | None, bool]:
        """Consume what should happen to this request: ``(fault or None, came_from_chaos)``."""
        with self._lock:
            return self._faults.next(method, path)

    # -- integrations ---------------------------------------------------------------------------------

    def _render(self, item: IntegrationRecord, with_assets: bool = False) -> dict[str, Any]:
        return item.render(self.now(), self._config.validation_delay, with_assets)

    def add_integration(
        self,
        type: str = "cd",
        cname_id: str | None = DEFAULT_CNAME_ID,
        *,
        status: str | None = None,
        state: str = "active",
        settings: Mapping[str, Any] | None = None,
        created: datetime | float | None = None,
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """Store an integration directly (no HTTP, no log) and return its record.

        ``status=None`` means normal validation; any other string (even one the API never sends, to test
        how a client copes) is forced and sticks. ``created`` (epoch seconds or a datetime; naive means UTC)
        may be in the past to age a record.
        """
        with self._lock:
            if isinstance(created, datetime) and created.tzinfo is None:
                created = created.replace(tzinfo=UTC)  # naive means UTC, as in Oktopost's own timestamps
            when = created.timestamp() if isinstance(created, datetime) else created
            when = self.now() if when is None else when
            item = IntegrationRecord(
                id=self._ids.new(),
                account_id=account_id or self.account_id,
                type=type,
                cname_id=cname_id,
                settings=dict(settings or {}),
                created=when,
                modified=when,
                state=state,
                forced_status=status,
            )
            self._integrations[item.id] = item
            if status is None and self._holding:
                item.forced_status = "invalid"
                self._held.add(item.id)
            return self._render(item)

    def _find(self, integration_id: str, account_id: str | None) -> IntegrationRecord | None:
        item = self._integrations.get(integration_id)
        if item is None or (account_id is not None and item.account_id != account_id):
            return None
        return item

    def list_integrations(
        self, account_id: str | None = None, type: str | None = None
    ) -> list[dict[str, Any]]:
        """Records in a stable order (creation time, then Id), optionally filtered."""
        with self._lock:
            items = [
                i
                for i in self._integrations.values()
                if (account_id is None or i.account_id == account_id) and (not type or i.type == type)
            ]
            items.sort(key=lambda i: (i.created, i.id))
            return [self._render(i) for i in items]

    @property
    def integrations(self) -> list[dict[str, Any]]:
        """Every account's integrations, with their current computed status."""
        return self.list_integrations()

    def get(
        self, integration_id: str, account_id: str | None = None, with_assets: bool = False
    ) -> dict[str, Any] | None:
        """One record, or ``None`` (also when it belongs to another account than ``account_id``)."""
        with self._lock:
            item = self._find(integration_id, account_id)
            return None if item is None else self._render(item, with_assets)

    def update_integration(
        self,
        integration_id: str,
        account_id: str | None = None,
        *,
        state: str | None = None,
        cname_id: str | Unset | None = UNSET,
        settings: Mapping[str, Any] | None = None,
    ) -> bool:
        """What ``POST /v2/integration/{id}`` does (bumps Version and Modified); ``False`` if missing."""
        with self._lock:
            item = self._find(integration_id, account_id)
            if item is None:
                return False
            if state is not None:
                item.state = state
            if not isinstance(cname_id, Unset):
                item.cname_id = cname_id
            item.settings.update(settings or {})
            item.modified = self.now()
            item.version += 1
            return True

    def delete_integration(self, integration_id: str, account_id: str | None = None) -> bool:
        """Remove an integration; ``False`` when there is no such integration."""
        with self._lock:
            if self._find(integration_id, account_id) is None:
                return False
            del self._integrations[integration_id]
            return True

    def set_status(self, integration_id: str, status: str | None) -> None:
        """Force ``Status`` (it then sticks); ``None`` returns to time-based validation."""
        with self._lock:
            self._require(integration_id).forced_status = status

    def hold_validation(self, hold: bool = True) -> None:
        """While on, every integration created from now on stays ``invalid`` until released.

        Lets a test decide when an integration turns valid (after it has seen a sensor or trigger read it
        invalid, say), instead of a validation delay that must outlast process start-ups on a loaded
        machine. Turning it off holds no new ones and leaves the held ones held.
        """
        with self._lock:
            self._holding = hold

    def release_validation(self, cname_id: str | None = None) -> list[str]:
        """Turn held integrations (all, or those on ``cname_id``) ``valid`` now; return their ids."""
        with self._lock:
            released = sorted(
                i
                for i in self._held
                if i in self._integrations and cname_id in (None, self._integrations[i].cname_id)
            )
            for integration_id in released:
                self._integrations[integration_id].forced_status = "valid"
                self._held.discard(integration_id)
            return released

    def set_state(self, integration_id: str, state: str) -> None:
        """Set ``State`` directly, bypassing the API's ``active``/``disabled`` check."""
        with self._lock:
            self._require(integration_id).state = state

    def _require(self, integration_id: str) -> IntegrationRecord:
        item = self._integrations.get(integration_id)
        if item is None:
            raise KeyError(f"no integration {integration_id!r} in the sandbox")
        return item

    # -- request log ------------------------------------------------------------------------------------

    def log_request(self, entry: LoggedRequest, generation: int) -> None:
        """Append to the log, unless the request started before the last reset (then it is stale)."""
        with self._lock:
            if generation == self.generation:
                self._log.append(entry)
                self._request_total += 1

    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the request log, in completion order."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Empty the request log (counters are kept)."""
        with self._lock:
            self._log.clear()

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        """Logged requests with this method and a path that ``fullmatch``es ``path_regex``."""
        return count_requests(self.requests, method, path_regex)

    def stats(self) -> dict[str, Any]:
        """Counters for assertions and for ``GET /_sandbox/stats``."""
        with self._lock:
            return {
                "requests": self._request_total,
                "logged_requests": len(self._log),
                "rate_limited_count": self._limiter.refused,
                "integrations": len(self._integrations),
                "cnames": len(self.cnames),
                "partner_accounts": len(self.partners),
                "pending_faults": len(self._faults.pending),
                "chaos_rate": self._faults.chaos_rate,
                "clock_offset": self._offset,
                "now": self.now(),
            }
