"""What a budget store tells the people who operate Airflow: a read-only picture of every account it knows.

Each store (:mod:`.memory`, :mod:`.local_disk`, :mod:`.redis_server`) keeps, beside the budget itself, a
small index of the accounts that used it, with *notes*: non-secret facts written by the processes that use
the account (its API host and Account ID, the limits they apply, the last 429, the waits a triggerer holds).
``note_account`` writes notes; ``account_states`` reads, for every account of the index, the calls of the
current window and of the UTC day, the block, and the notes. Neither ever sees an API key: an account is
named in the store by a digest (:func:`airflow_provider_oktopost._core.budget.account.account_key`), and the
notes hold only what is listed here.
"""

from __future__ import annotations

from typing import TypedDict


class AccountState(TypedDict):
    """One account as a store sees it right now."""

    #: The store's name for the account (a digest of API host and Account ID).
    key: str
    #: The store's clock (epoch seconds; the Redis server's time for the Redis store).
    now: float
    #: Calls granted in the last ``window`` seconds (slots reserved for the next moments included).
    minute: int
    #: Calls counted on the current UTC day.
    today: int
    #: End of the block recorded after a 429 (epoch seconds; 0 when none was ever recorded).
    blocked_until: float
    #: The notes processes left (``api_host``, ``account_id``, ``last_429_at``, ``waits@<process>``...).
    notes: dict[str, str]


#: The notes a store keeps; anything else is refused, so that nothing secret is ever written by mistake.
NOTE_FIELDS = (
    "api_host",
    "account_id",
    "per_minute",
    "window",
    "daily_limit",
    "polling_day_limit",
    "last_429_at",
    "block_seconds",
)
#: Notes of one triggerer process: ``waits@<host>:<pid>`` = ``"<waits> <good until, epoch seconds>"``.
WAITS_PREFIX = "waits@"
#: The Redis set (and SQLite table) that lists the accounts a store knows.
INDEX_NAME = "oktopost:accounts"


def checked_notes(fields: dict[str, str]) -> dict[str, str]:
    """``fields`` if every name is a known note (a ``ValueError`` otherwise)."""
    for name in fields:
        if name not in NOTE_FIELDS and not name.startswith(WAITS_PREFIX):
            raise ValueError(f"not a budget-store note: {name!r}")
    return {name: str(value) for name, value in fields.items()}
