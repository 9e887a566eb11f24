"""What a read of a waited-for integration means: the one place a reading is judged.

The coalesced poller hands each waiting trigger a *reading*: the integration, the error the read ran into,
or :data:`WAKE` (no reading: the trigger's deadline passed). :func:`judge` decides what it means for a wait
with a given target, for the poller (does this waiter still need reading?) and for the trigger (which event
to send) alike, so the two can never disagree.
"""

from __future__ import annotations

import enum
from typing import Final

from airflow_provider_oktopost.exceptions import PERMANENT_ERRORS, TRANSIENT_ERRORS
from airflow_provider_oktopost.models import Integration


class _Wake:
    """A reading that is no reading: the waiter's deadline has passed, it should look at the clock."""


#: The reading that is no reading: the waiter's deadline has passed.
WAKE: Final = _Wake()
#: What a waiter is handed: the integration, the error the read ran into, or ``WAKE``.
Reading = Integration | BaseException | _Wake


class Verdict(enum.Enum):
    """What a reading means for one wait."""

    #: The integration has the target status and state.
    SUCCESS = "success"
    #: A refusal waiting cannot fix (404, 401/403, another 4xx, a broken connection) or an unexpected error.
    ERROR = "error"
    #: Not there yet, or a passing trouble (rate limit, server error, network): read again later.
    WAIT = "wait"
    #: No reading: the deadline passed; the trigger decides by the clock.
    WOKEN = "woken"


def judge(reading: Reading, target_status: str | None, target_state: str | None) -> Verdict:
    """The single trigger's rules for one reading."""
    if isinstance(reading, _Wake):
        return Verdict.WOKEN
    if isinstance(reading, Integration):
        return Verdict.SUCCESS if reading.matches(target_status, target_state) else Verdict.WAIT
    if isinstance(reading, TRANSIENT_ERRORS):
        return Verdict.WAIT
    if isinstance(reading, PERMANENT_ERRORS):
        return Verdict.ERROR
    return Verdict.ERROR  # an unexpected exception: the wait ends with an error, never silently


__all__ = ["WAKE", "Reading", "Verdict", "judge"]
