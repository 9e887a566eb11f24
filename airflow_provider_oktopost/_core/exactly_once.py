"""Exactly-once creates: the one rule for every non-idempotent ``POST`` that makes a record.

``POST /v2/integration`` and ``POST /v2/cname`` are not idempotent, and their answer can be lost after the
server committed them (a timeout after sending, a dropped connection, a 5xx, an unreadable 2xx). Sending
such a create again would make a second record, so :func:`create_exactly_once` only re-sends when looking
for the record has not found it:

- after a failure that may have committed the create (:class:`UnknownOutcome`, raised by
  :func:`~.operations.call`), it looks :data:`LOST_CREATE_LOOKS` times, spread over at least the request
  timeout (:func:`lost_create_waits`: a server that took that long to fail may be that slow to commit);
  the record a look finds is the result, and only when every look finds none is the create sent again;
- when a re-sent create is refused (a 4xx, e.g. because one now exists after all), it looks once more
  before it fails.

What this cannot promise: a create the server commits after every look (later than the request timeout plus
the looks) is not seen, and the re-sent one makes a second record.

Sans-IO like the rest of :mod:`airflow_provider_oktopost._core`: the steps are generators the caller supplies
(``send`` and ``look``), and waits are yielded as :class:`~.wire.Sleep`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_provider_oktopost._core.wire import Sleep
from airflow_provider_oktopost.exceptions import OktopostApiError, OktopostError

if TYPE_CHECKING:
    from airflow_provider_oktopost._core.config import ClientConfig
    from airflow_provider_oktopost._core.steps import Op

log = logging.getLogger("airflow_provider_oktopost")

#: How many times a create whose answer was lost is looked for before it is sent again.
LOST_CREATE_LOOKS = 3


class _Record(Protocol):
    @property
    def id(self) -> str: ...


#: The record a create returns.
RecordT = TypeVar("RecordT", bound=_Record)


class UnknownOutcome(Exception):
    """A non-idempotent request failed in a way that may have left it committed on the server."""

    def __init__(self, error: OktopostError) -> None:
        super().__init__(str(error))
        self.error = error


def lost_create_waits(timeout: float, delay: float) -> list[float]:
    """Waits before each look for a create whose answer was lost: :data:`LOST_CREATE_LOOKS` of them.

    The first look comes after the retry ``delay``; the later ones are spread so that the last one happens
    at least one request ``timeout`` after the failure (a server that took ``timeout`` to fail may be that
    slow to commit, too).
    """
    rest = max(timeout - delay, 0.0) / (LOST_CREATE_LOOKS - 1)
    return [delay] + [rest] * (LOST_CREATE_LOOKS - 1)


def create_exactly_once(
    config: ClientConfig,
    send: Callable[[], Op[dict[str, Any]]],
    made: Callable[[dict[str, Any]], Op[RecordT]],
    look: Callable[[], Op[RecordT | None]],
    *,
    what: str,
    describe: str,
) -> Op[RecordT]:
    """Run a create so that a lost answer never leads to a second record a look could have avoided.

    :param send: Sends the create once (with :func:`~.operations.call`'s retries of what certainly did
        not commit) and returns the answer; raises :class:`UnknownOutcome` when it may have committed.
    :param made: The record from a successful answer (and any bookkeeping a fresh create needs).
    :param look: Looks for the record this create would have made; ``None`` when there is none. It must
        read the server's present state (no cached listing).
    :param what: What is created, for the log (``"integration"``, ``"CNAME for links.example.com"``).
    :param describe: The request, for the log (``ApiRequest.describe()``).
    """
    recoveries = 0
    while True:
        try:
            data = yield from send()
        except UnknownOutcome as unknown:
            delay = config.retry.delay(recoveries)
            if delay is None:
                raise unknown.error from None
            recoveries += 1
            found = yield from _look_for_lost_create(config, look, unknown.error, delay, what)
            if found is not None:
                return found
            log.warning("%s: the %s was not created; sending it again", describe, what)
            continue
        except OktopostApiError as refusal:
            if not recoveries:
                raise
            # A re-sent create refused: perhaps because the lost one did commit after all. Look once more.
            log.warning("%s after an earlier attempt's answer was lost; looking again", refusal.message)
            found = yield from look()
            if found is not None:
                log.warning("The %s was created anyway: %s", what, found.id)
                return found
            raise
        return (yield from made(data))


def _look_for_lost_create(
    config: ClientConfig,
    look: Callable[[], Op[RecordT | None]],
    error: OktopostError,
    delay: float,
    what: str,
) -> Op[RecordT | None]:
    for number, wait in enumerate(lost_create_waits(config.timeout, delay), start=1):
        # Wait first: a server still working on the lost request must get to commit it before we look.
        log.warning(
            "%s; look %d of %d in %.1fs for whether the %s was created anyway",
            error.message,
            number,
            LOST_CREATE_LOOKS,
            wait,
            what,
        )
        if wait > 0:
            yield Sleep(wait)
        found = yield from look()
        if found is not None:
            log.warning("The %s was created anyway: %s", what, found.id)
            return found
    return None


__all__ = ["LOST_CREATE_LOOKS", "UnknownOutcome", "create_exactly_once", "lost_create_waits"]
