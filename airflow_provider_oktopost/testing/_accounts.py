"""Many accounts in one sandbox: partners, a rate limit per account, and a 429 block on one account.

A partner serves many customers, each an Oktopost account with its own key and its own 60 calls a minute.
The sandbox hosts them side by side: :meth:`.SandboxState.add_account` accepts another
Basic-auth pair, :meth:`AccountRules.set_account_rate_limit` gives one account a limit of its own (the
others keep the sandbox's), and :meth:`AccountRules.block_account` blocks one account as a 429 would,
without touching the others, so tests can show that accounts do not slow each other down.

A mixin of :class:`~airflow_provider_oktopost.testing.state.SandboxState`: it uses the state's lock, its
accounts, its config and its rate limiter, and keeps :mod:`.state` small.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from airflow_provider_oktopost.testing._traffic import RateLimiter
from airflow_provider_oktopost.testing.config import SandboxConfig

#: The sandbox's partner account (Basic auth on the ``/account`` routes), registered in every sandbox.
DEFAULT_PARTNER_ID = "001partner00001"
DEFAULT_PARTNER_KEY = "sandbox-partner-key"

_UNSET_LIMIT = object()


class AccountRules:
    """Per-account rules of the sandbox state (see the module docstring)."""

    _lock: threading.RLock
    _accounts: dict[str, str]
    _limiter: RateLimiter
    now: Callable[[], float]

    def _init_accounts(self) -> None:
        """Called once by the state's constructor: the partner account and no per-account limits."""
        self._partner_ids: set[str] = set()
        self._account_limits: dict[str, int | None] = {}
        self.add_partner(DEFAULT_PARTNER_ID, DEFAULT_PARTNER_KEY)

    @property
    def config(self) -> SandboxConfig:
        """The sandbox's config (the state provides it)."""
        raise NotImplementedError

    def add_partner(self, account_id: str, api_key: str) -> None:
        """Accept a partner's Basic-auth pair: it may call the ``/account`` routes."""
        with self._lock:
            self._accounts[account_id] = api_key
            self._partner_ids.add(account_id)

    def is_partner(self, account_id: str) -> bool:
        """Whether ``account_id`` may call the partner routes."""
        with self._lock:
            return account_id in self._partner_ids

    @property
    def account_ids(self) -> list[str]:
        """Every account the sandbox accepts, partners included, in the order they were added."""
        with self._lock:
            return list(self._accounts)

    def set_account_rate_limit(self, account_id: str, per_minute: int | None) -> None:
        """Give one account its own calls per minute (``None``: no limit for it); the window is shared."""
        if per_minute is not None and per_minute < 1:
            raise ValueError("per_minute must be >= 1, or None for no limit")
        with self._lock:
            self._account_limits[account_id] = per_minute

    def clear_account_rate_limits(self) -> None:
        """Every account back to the sandbox's limit (a reset with ``restore_config`` does this)."""
        with self._lock:
            self._account_limits.clear()

    def rate_limit_for(self, account_id: str | None) -> int | None:
        """The calls per minute ``account_id`` may make: its own limit, else the sandbox's."""
        with self._lock:
            if account_id is not None and account_id in self._account_limits:
                return self._account_limits[account_id]
            return self.config.rate_limit_per_minute

    def block_account(self, account_id: str, seconds: float) -> None:
        """Block one account for ``seconds``, as after a burst: its calls get 429, other accounts' do not."""
        with self._lock:
            key = self._accounts.get(account_id)
            if key is None:
                raise KeyError(f"no account {account_id!r} in the sandbox")
            self._limiter.block(key, self.now() + seconds)

    def rate_limited_by_account(self) -> dict[str, dict[str, int]]:
        """Per account: ``refused`` (every 429 the limiter sent) and ``over_limit`` (blocks it started
        because a call went over the window: what a well-behaved client never causes)."""
        with self._lock:
            return {
                account: {
                    "refused": self._limiter.refused_by.get(key, 0),
                    "over_limit": self._limiter.over_limit_by.get(key, 0),
                }
                for account, key in self._accounts.items()
            }


__all__ = ["DEFAULT_PARTNER_ID", "DEFAULT_PARTNER_KEY", "AccountRules"]
