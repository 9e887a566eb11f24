"""What a budget store does: the interface :mod:`.memory`, :mod:`.local_disk` and :mod:`.redis_server` keep.

Every method is atomic across the processes that share the store; :mod:`.rules` holds the rules they apply.
"""

from __future__ import annotations

from typing import Protocol

from airflow_provider_oktopost._core.budget.rules import Grant
from airflow_provider_oktopost._core.budget.snapshot import AccountState


class Store(Protocol):
    """A budget store; every method is atomic across the processes that share the store."""

    shared_across_processes: bool
    blocking: bool

    def reserve(self, key: str, *, limit: int, window: float, day_limit: int, max_wait: float) -> Grant:
        """Take the account's next slot if it comes within ``max_wait`` seconds (see ``budget.rules``)."""
        ...

    def block(self, key: str, seconds: float) -> None:
        """Record that the account is refused for ``seconds`` from now."""
        ...

    def get_listing(self, key: str, max_age: float) -> dict[str, str] | None:
        """A shared listing no older than ``max_age`` seconds, or None."""
        ...

    def now(self) -> float:
        """The store's clock (epoch seconds): what a listing's read is dated by."""
        ...

    def put_listing(self, key: str, items: dict[str, str], began: float) -> None:
        """Share a listing whose read began at ``began`` (:meth:`now`), keeping what was added since."""
        ...

    def add_to_listing(self, key: str, integration_id: str, cname_id: str) -> None:
        """Add one entry to a shared listing, and to any listing being read now."""
        ...

    def forget_listings(self, prefix: str) -> None:
        """Drop every shared listing whose key starts with ``prefix``."""
        ...

    def note_account(self, key: str, fields: dict[str, str]) -> None:
        """Index the account and set non-secret notes about it (see ``budget.snapshot``)."""
        ...

    def account_states(self, window: float, keys: list[str] | None = None) -> list[AccountState]:
        """A read-only picture of every known account, or of ``keys`` (see ``budget.snapshot``)."""
        ...


__all__ = ["Store"]
