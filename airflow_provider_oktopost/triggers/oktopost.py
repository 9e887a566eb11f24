"""Triggers: wait for an integration to become ready, or for a moment (the end of a rate-limit block).

Both run on the triggerer's event loop, so nothing here blocks: the connection is looked up with
:func:`~airflow_provider_oktopost.hooks.oktopost_async.aget_client_config` (never the sync lookup, which
would call the secrets masker on the loop), the integration triggers of one account share one poller and
one ``httpx`` pool (``_poller``), and every wait is ``clock.async_sleep``. Deadlines are absolute epoch
seconds (``clock.wall()``), so a triggerer restart cannot extend a wait. Only reads happen here; changes are
made by operators in workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.driver import redact
from airflow_provider_oktopost.exceptions import PERMANENT_ERRORS, TRANSIENT_ERRORS, OktopostRateLimitError
from airflow_provider_oktopost.models import target_text

if TYPE_CHECKING:
    from airflow_provider_oktopost.models import Integration
    from airflow_provider_oktopost.triggers._reading import Reading
    from airflow_provider_oktopost.triggers._waiter import Waiter

_MODULE = __name__
#: The least time between a trigger's start and its success event (see ``_settle``).
SETTLE_SECONDS = 10.0


def format_moment(epoch: float) -> str:
    """An epoch time as ISO 8601 UTC, for messages (``2026-11-28T09:35:00Z``)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(integration: Integration | None) -> str:
    if integration is None:
        return "not read yet"
    data = integration.to_dict()
    return f"status={data['status']!r}, state={data['state']!r}"


class OktopostIntegrationTrigger(BaseTrigger):
    """Poll one integration until it has ``target_status`` and ``target_state``, or ``end_time`` passes.

    Yields exactly one event, always ``{"status", "message", "integration_id", "integration"}``:

    - ``success``: the integration matches; ``integration`` is its ``to_dict()``.
    - ``timeout``: ``end_time`` passed first; ``integration`` is the last state seen (or ``None``).
    - ``error``: a refusal from Oktopost that waiting cannot fix (404, 401/403, other 4xx, a broken
      connection definition): the sensor fails at once, without retries.
    - ``failed``: anything that is not the integration's fault (the connection could not be read, the shared
      poller stopped, a bug, or nothing but transient failures for ``max_failing_time`` seconds): the sensor
      fails the try so that its ``retries`` apply, and ``soft_fail`` never turns it into a skip.

    Server errors, network failures and rate limits are logged and waited out; after a rate limit the next
    read waits for the block to end (``retry_after``), never past ``end_time``. The deadline does not wait
    for a reading: when ``end_time`` passes, the timeout event is sent within moments even while the
    account's poller is sleeping on the call budget or stuck on a slow read.

    :param integration_id: The integration to watch.
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param target_status: ``valid``/``invalid``, or ``None`` for any.
    :param target_state: ``active``/``disabled``, or ``None`` for any.
    :param poll_interval: Seconds between reads.
    :param end_time: Absolute deadline, epoch seconds (``None``: wait forever).
    :param hook_params: The task's client settings (``timeout``, ``max_retries``), plain JSON values.
    :param max_failing_time: Give up (``failed``) after this many seconds of nothing but transient
        failures (``None``: never); counted from the first failure after the last good reading.
    """

    def __init__(
        self,
        integration_id: str,
        oktopost_conn_id: str = "oktopost_default",
        *,
        target_status: str | None = "valid",
        target_state: str | None = "active",
        poll_interval: float = 60.0,
        end_time: float | None = None,
        max_failing_time: float | None = None,
        hook_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.integration_id = integration_id
        self.oktopost_conn_id = oktopost_conn_id
        self.target_status = target_status
        self.target_state = target_state
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.max_failing_time = None if max_failing_time is None else float(max_failing_time)
        self.hook_params = dict(hook_params or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON values only; the connection is looked up again where the trigger runs."""
        return (
            f"{_MODULE}.{type(self).__name__}",
            {
                "integration_id": self.integration_id,
                "oktopost_conn_id": self.oktopost_conn_id,
                "target_status": self.target_status,
                "target_state": self.target_state,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "max_failing_time": self.max_failing_time,
                "hook_params": self.hook_params,
            },
        )

    def _event(self, status: str, message: str, integration: Integration | None = None) -> TriggerEvent:
        return TriggerEvent(  # type: ignore[no-untyped-call]
            {
                "status": status,
                "message": message,
                "integration_id": self.integration_id,
                "integration": integration.to_dict() if integration is not None else None,
            }
        )

    def _target(self) -> str:
        return target_text(self.target_status, self.target_state)

    async def _check(self, waiter: Waiter) -> Integration | None:
        """The next reading of the integration from the account's shared poller, or ``None`` at the deadline.

        The wait for a reading is cut at ``end_time`` (event-loop time, computed from the provider's clock),
        so a poller that is sleeping or stuck on a slow read cannot hold the timeout back. (The poller also
        wakes a waiter at its deadline; under simulated time that is what ends the wait.) A failed read
        raises the error it ran into, exactly as reading the integration directly would; what each outcome
        means is :func:`.reading.judge`'s call, the same the poller makes.
        """
        if self.end_time is None:
            return self._judged(await waiter.next_reading())
        # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that coincides with a reading.
        reading = asyncio.ensure_future(waiter.next_reading())
        try:
            await asyncio.wait({reading}, timeout=max(self.end_time - clock.wall(), 0.0))
        finally:
            if not reading.done():
                reading.cancel()  # a reading still on its way stays in the waiter's inbox
        if reading.done() and not reading.cancelled():
            return self._judged(reading.result())
        return None

    def _judged(self, reading: Reading) -> Integration | None:
        """A reading as :meth:`_check` returns it: the integration, ``None`` (woken), or the error raised."""
        from airflow_provider_oktopost.models import Integration
        from airflow_provider_oktopost.triggers._reading import Verdict, judge

        if judge(reading, self.target_status, self.target_state) is Verdict.WOKEN:
            return None
        if isinstance(reading, BaseException):
            raise reading  # ERROR or WAIT: the except clauses of run() tell them apart the same way
        assert isinstance(reading, Integration)
        return reading

    async def _settle(self, started: float) -> None:
        """Hold a success that comes within :data:`SETTLE_SECONDS` of the trigger's start until then.

        The sensor defers at once, so an integration that is already ready is read within a second of the
        deferral. Airflow can then mark the task failed: the executor's report that the deferring try
        ended arrives after the event has already sent the task back to the scheduler (a state mismatch,
        apache/airflow#66374; seen in the bulk-onboarding deployment test). Never past ``end_time``.
        """
        until = started + SETTLE_SECONDS
        if self.end_time is not None:
            until = min(until, self.end_time)
        if until > clock.wall():
            await clock.async_sleep(until - clock.wall())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        secrets: tuple[str, ...] = ()
        last: Integration | None = None
        started = clock.wall()
        try:
            from airflow_provider_oktopost.hooks.oktopost_async import aget_client_config
            from airflow_provider_oktopost.triggers._poller import join

            config = await aget_client_config(
                self.oktopost_conn_id,
                timeout=self.hook_params.get("timeout"),
                max_retries=self.hook_params.get("max_retries"),
            )
            secrets = config.secrets
            # Reads go through one poller per account in this process (see triggers.poller); leaving
            # the block (event, cancellation, error) stops this integration being polled.
            async with join(
                config,
                self.integration_id,
                target_status=self.target_status,
                target_state=self.target_state,
                poll_interval=self.poll_interval,
                end_time=self.end_time,
            ) as waiter:
                failing_since: float | None = None
                while True:
                    if self.end_time is not None and clock.wall() >= self.end_time:
                        yield self._event(
                            "timeout",
                            f"Integration {self.integration_id} did not reach {self._target()} by "
                            f"{format_moment(self.end_time)}; last seen: {_describe(last)}",
                            last,
                        )
                        return
                    try:
                        reading = await self._check(waiter)
                    except PERMANENT_ERRORS as error:
                        yield self._event("error", redact(str(error), secrets), last)
                        return
                    except TRANSIENT_ERRORS as error:
                        now = clock.wall()
                        if isinstance(error, OktopostRateLimitError):
                            failing_since = None  # Oktopost answered (wait, then read): not counted
                        else:
                            failing_since = now if failing_since is None else failing_since
                        reason = redact(str(error), secrets)
                        if (
                            failing_since is not None
                            and self.max_failing_time is not None
                            and now - failing_since >= self.max_failing_time
                        ):
                            yield self._event(
                                "failed",
                                f"Reading integration {self.integration_id} failed for "
                                f"{now - failing_since:.0f}s without one good reading (max_failing_time="
                                f"{self.max_failing_time:g}s); last failure: {reason}",
                                last,
                            )
                            return
                        self.log.warning(
                            "Reading integration %s failed, will try again in %.0fs: %s",
                            self.integration_id,
                            waiter.retry_in(),
                            reason,
                        )
                        continue
                    if reading is None:
                        continue  # the deadline has passed: the check at the top of the loop says so
                    failing_since = None
                    last = reading
                    if last.matches(self.target_status, self.target_state):
                        await self._settle(started)
                        yield self._event(
                            "success",
                            f"Integration {self.integration_id} reached {self._target()}",
                            last,
                        )
                        return
                    self.log.info(
                        "Integration %s is %s; waiting for %s",
                        self.integration_id,
                        _describe(last),
                        self._target(),
                    )
        except asyncio.CancelledError:
            raise  # the triggerer is stopping or moving this trigger: not an outcome
        except PERMANENT_ERRORS as error:  # a broken connection, found before the first read
            yield self._event("error", redact(str(error), secrets), last)
        except Exception as error:
            # Not the integration's fault (the connection could not be read, the poller stopped, a bug):
            # the try fails retryably, and soft_fail must not hide it.
            self.log.exception("Waiting for integration %s failed unexpectedly", self.integration_id)
            message = redact(f"{type(error).__name__}: {error}", secrets)
            yield self._event(
                "failed", f"Waiting for integration {self.integration_id} failed: {message}", last
            )


class OktopostWaitTrigger(BaseTrigger):
    """Fire at ``moment`` (epoch seconds): how an operator sits out a rate-limit block without a worker.

    Why not the standard provider's ``DateTimeTrigger`` with ``defer(kwargs=...)``: it would carry the
    payload just as well on Airflow 3.0 to 3.3, but it sleeps on the real clock, while this trigger waits
    with :func:`~airflow_provider_oktopost._core.clock.async_sleep`, the provider's one clock, which the test
    suite and the benchmarks simulate ("patch time, not the network"); a 15-minute block is then tested in
    milliseconds, and the deferral path is exercised end to end by the same tests.

    Yields ``{"status": "resume", "message", "moment", "payload"}``; ``payload`` is handed back untouched
    (plain JSON values), so the operator can carry its progress through the wait.

    :param moment: When to fire, epoch seconds; a moment in the past fires at once.
    :param payload: JSON values returned in the event.
    """

    def __init__(self, moment: float, payload: dict[str, Any] | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.moment = float(moment)
        self.payload = dict(payload or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{_MODULE}.{type(self).__name__}", {"moment": self.moment, "payload": self.payload}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        remaining = self.moment - clock.wall()
        if remaining > 0:
            self.log.info("Waiting until %s (%.0fs)", format_moment(self.moment), remaining)
            await clock.async_sleep(remaining)
        yield TriggerEvent(  # type: ignore[no-untyped-call]
            {
                "status": "resume",
                "message": f"Resumed at {format_moment(clock.wall())}",
                "moment": self.moment,
                "payload": self.payload,
            }
        )


__all__ = ["OktopostIntegrationTrigger", "OktopostWaitTrigger", "format_moment"]
