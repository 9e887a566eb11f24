"""The budget's rules, as one pure function every store applies inside its own atomic update.

A *sliding-window log*: each granted call leaves its send time (a *slot*, possibly in the near future) in
the store, and a new call gets the earliest time at which no ``window``-second span would hold more than
``limit`` slots. A token bucket would allow twice its rate across a window boundary; Oktopost counts a
sliding minute, so the log is what keeps every process of a deployment under it. Two more facts bound the
slot: the account's *block* (a 429 seen by anyone: nobody sends before it ends) and the *day* (calls
counted per UTC day; once ``day_limit`` is used, the next slot is after midnight UTC).

Shared listings follow one rule too (:func:`merged_listing`): a listing is dated by when its read *began*,
and what a connect added while it was read is kept in it.

The Redis store runs the same rules in Lua (:mod:`.redis_server`); keep both in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DAY = 86_400.0


@dataclass(frozen=True)
class Grant:
    """A store's answer to a reservation.

    :param wait: Seconds from now until the call may be sent (0 when at once).
    :param granted: True when the slot was taken; False when ``wait`` exceeded the caller's bound (nothing
        was recorded: the caller should come back later, or defer).
    :param day_used: Calls of the account counted on the slot's UTC day, this one included when granted.
    :param blocked_for: Seconds left of a block recorded after a 429 (0 when none).
    :param shared: False when the answer comes from this process's own fallback budget, because the
        configured store could not be reached.
    """

    wait: float
    granted: bool
    day_used: int = 0
    blocked_for: float = 0.0
    shared: bool = True


def day_of(moment: float) -> int:
    """The UTC day number (days since the epoch) of an epoch time."""
    return int(moment // DAY)


def plan(
    limiting: float | None,
    now: float,
    blocked_until: float,
    *,
    window: float,
    day_limit: int,
    day_used: dict[int, int],
) -> float:
    """The earliest send time for one more call.

    :param limiting: The ``limit``-th most recent send time already granted within the window (none
        older than ``now - window``), or None when fewer than ``limit`` are: only that one slot decides, so
        a store reads one row, not the whole window (:func:`limiting_slot` picks it from a sorted list).
    :param blocked_until: End of the account's block (epoch seconds; in the past when none).
    :param day_used: Calls counted per UTC day (only the days that matter need to be present).
    """
    at = max(now, blocked_until)
    if limiting is not None:
        at = max(at, limiting + window)
    while day_used.get(day_of(at), 0) >= day_limit:
        at = (day_of(at) + 1) * DAY  # the day is used up: first moment of the next UTC day
    return at


def limiting_slot(slots: Sequence[float], limit: int) -> float | None:
    """The ``limit``-th most recent of ``slots`` (ascending), or None when there are fewer than ``limit``."""
    return slots[len(slots) - limit] if len(slots) >= limit else None


#: How long a store remembers an integration added to a listing (for reads still running when it was added).
ADDITIONS_KEPT = 3600.0


def merged_listing(
    items: dict[str, str],
    began: float,
    *,
    taken: float | None,
    forgotten: float,
    additions: dict[str, tuple[float, str]],
) -> dict[str, str] | None:
    """The listing to share after a read that began at ``began``, or None to keep what the store has.

    :param taken: When the read of the listing the store holds began (None: it holds none).
    :param forgotten: When the account's listings were last dropped (a delete or a CNAME change).
    :param additions: Integration Id -> (when it was added, its entry): the connects of the last
        :data:`ADDITIONS_KEPT` seconds (a delete or a CNAME change drops them with the listings).

    A read that began before the listing already shared, or before a delete that the read may not have
    seen, is not shared (it would be older news). Every connect added lately is kept, whenever it finished:
    the read may have passed its page before the connect committed, and a listing may not show an
    integration created a moment before the read began.
    """
    if (taken is not None and taken > began) or forgotten >= began:
        return None
    merged = dict(items)
    merged.update({id_: entry for id_, (_at, entry) in additions.items()})
    return merged
