"""The per-process store: the budget as it was before it was shared, and the fallback when a store is down.

Everything lives in this process's memory, so it only keeps *this* process under the limits. It is what
``budget_store = "memory"`` selects, and what the provider falls back to (with a warning) when the
configured shared store cannot be reached.
"""

from __future__ import annotations

import threading
from bisect import insort
from dataclasses import dataclass, field

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.budget.rules import (
    ADDITIONS_KEPT,
    Grant,
    day_of,
    limiting_slot,
    merged_listing,
    plan,
)
from airflow_provider_oktopost._core.budget.snapshot import AccountState, checked_notes


@dataclass
class _Account:
    slots: list[float] = field(default_factory=list)
    blocked_until: float = 0.0
    days: dict[int, int] = field(default_factory=dict)
    listings: dict[str, tuple[float, dict[str, str]]] = field(default_factory=dict)
    additions: dict[str, tuple[float, str]] = field(default_factory=dict)


class MemoryStore:
    """Budget state kept in a dict, guarded by a lock (threads of one process share it)."""

    shared_across_processes = False
    #: Answers never block on I/O: the async driver may call it on the event loop.
    blocking = False

    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}
        self._forgotten: dict[str, float] = {}
        #: Account key -> its notes (see :meth:`note_account`).
        self._notes: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def _account(self, key: str) -> _Account:
        return self._accounts.setdefault(key, _Account())

    def reserve(self, key: str, *, limit: int, window: float, day_limit: int, max_wait: float) -> Grant:
        """Take the next slot if it comes within ``max_wait`` seconds (see :func:`.rules.plan`)."""
        with self._lock:
            now = clock.wall()
            account = self._account(key)
            account.slots = [s for s in account.slots if s > now - window]
            at = plan(
                limiting_slot(account.slots, limit),
                now,
                account.blocked_until,
                window=window,
                day_limit=day_limit,
                day_used=account.days,
            )
            day = day_of(at)
            used = account.days.get(day, 0)
            blocked_for = max(0.0, account.blocked_until - now)
            if at - now > max_wait:
                return Grant(at - now, False, used, blocked_for)
            insort(account.slots, at)
            account.days = {d: n for d, n in account.days.items() if d >= day_of(now) - 1}
            account.days[day] = used + 1
            return Grant(at - now, True, used + 1, blocked_for)

    def block(self, key: str, seconds: float) -> None:
        """Record that the account is refused for ``seconds`` from now (a 429)."""
        with self._lock:
            account = self._account(key)
            account.blocked_until = max(account.blocked_until, clock.wall() + seconds)

    def get_listing(self, key: str, max_age: float) -> dict[str, str] | None:
        """A shared listing (integration Id -> CNAME Id) no older than ``max_age`` seconds, or None."""
        with self._lock:
            found = self._account(key).listings.get("listing")
            if found is None or found[0] < clock.wall() - max_age:
                return None
            return dict(found[1])

    def now(self) -> float:
        """This process's clock."""
        return clock.wall()

    def put_listing(self, key: str, items: dict[str, str], began: float) -> None:
        """Share a listing whose read began at ``began`` (see :func:`.rules.merged_listing`)."""
        with self._lock:
            account = self._account(key)
            found = account.listings.get("listing")
            forgotten = max((at for p, at in self._forgotten.items() if key.startswith(p)), default=0.0)
            merged = merged_listing(
                items,
                began,
                taken=None if found is None else found[0],
                forgotten=forgotten,
                additions=account.additions,
            )
            if merged is not None:
                account.listings["listing"] = (began, merged)

    def add_to_listing(self, key: str, integration_id: str, cname_id: str) -> None:
        """Add an integration just created to the listing, and keep it for the reads running now."""
        with self._lock:
            now = clock.wall()
            account = self._account(key)
            found = account.listings.get("listing")
            if found is not None:
                found[1][integration_id] = cname_id
            account.additions = {
                i: added for i, added in account.additions.items() if added[0] > now - ADDITIONS_KEPT
            }
            account.additions[integration_id] = (now, cname_id)

    def forget_listings(self, prefix: str) -> None:
        """Drop every shared listing whose key starts with ``prefix`` (after a delete or a move)."""
        with self._lock:
            self._forgotten[prefix] = clock.wall()
            for name in [k for k in self._accounts if k.startswith(prefix)]:
                self._accounts[name].listings.clear()
                self._accounts[name].additions.clear()

    # -- what operators see (the Oktopost page, metrics): see budget.snapshot --------------------------

    def note_account(self, key: str, fields: dict[str, str]) -> None:
        """Add ``key`` to the accounts this store knows and set non-secret notes about it."""
        fields = checked_notes(fields)
        with self._lock:
            self._notes.setdefault(key, {}).update(fields)

    def account_states(self, window: float, keys: list[str] | None = None) -> list[AccountState]:
        """Every known account (or those of ``keys``): its calls, block and notes, read-only."""
        with self._lock:
            now = clock.wall()
            notes = self._notes
            states = []
            for key in sorted(notes) if keys is None else [k for k in keys if k in notes]:
                account = self._accounts.get(key) or _Account()
                states.append(
                    AccountState(
                        key=key,
                        now=now,
                        minute=sum(1 for s in account.slots if s > now - window),
                        today=account.days.get(day_of(now), 0),
                        blocked_until=account.blocked_until,
                        notes=dict(notes[key]),
                    )
                )
            return states
