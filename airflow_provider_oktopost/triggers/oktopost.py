"""Triggers: wait for an integration to become ready, or for a moment (the end of a rate-limit block).

Both run on the triggerer's event loop, so nothing here blocks: the connection is looked up with
:func:`~airflow_provider_oktopost.hooks.oktopost_async.aget_client_config` (never the sync lookup, which
would call the secrets masker on the loop), the integration triggers of one account share one poller and
one ``httpx`` pool (:mod:`.poller`), and every wait is ``clock.async_sleep``. Deadlines are absolute epoch
seconds (``clock.wall()``), so a triggerer restart cannot extend a wait. Only reads happen here; changes are
made by operators in workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_oktopost.core import clock
from airflow_provider_oktopost.core.driver import redact
from airflow_provider_oktopost.exceptions import PERMANENT_ERRORS, TRANSIENT_ERRORS

if TYPE_CHECKING:
    from airflow_provider_oktopost.models import Integration
    from airflow_provider_oktopost.triggers.waiter import Waiter

_MODULE = __name__


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
    - ``error``: a refusal that waiting cannot fix (404, 401/403, other 4xx, a broken connection) or any
      unexpected exception; the trigger never dies silently.

    Server errors, network failures and rate limits are logged and waited out; after a rate limit the next
    read waits for the block to end (``retry_after``), never past ``end_time``.

    :param integration_id: The integration to watch.
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param target_status: ``valid``/``invalid``, or ``None`` for any.
    :param target_state: ``active``/``disabled``, or ``None`` for any.
    :param poll_interval: Seconds between reads.
    :param end_time: Absolute deadline, epoch seconds (``None``: wait forever).
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
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.integration_id = integration_id
        self.oktopost_conn_id = oktopost_conn_id
        self.target_status = target_status
        self.target_state = target_state
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)

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
        return f"status={self.target_status or 'any'}, state={self.target_state or 'any'}"

    async def _check(self, waiter: Waiter) -> Integration | None:
        """The next reading of the integration from the account's shared poller.

        ``None`` means the poller woke the trigger because ``end_time`` has passed. A failed read raises
        the error it ran into, exactly as reading the integration directly would.
        """
        return await waiter.next_reading()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        secrets: tuple[str, ...] = ()
        last: Integration | None = None
        try:
            from airflow_provider_oktopost.hooks.oktopost_async import aget_client_config
            from airflow_provider_oktopost.triggers.poller import join

            config = await aget_client_config(self.oktopost_conn_id)
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
                        self.log.warning(
                            "Reading integration %s failed, will try again in %.0fs: %s",
                            self.integration_id,
                            waiter.retry_in(),
                            redact(str(error), secrets),
                        )
                        continue
                    if reading is None:
                        continue  # woken at the deadline
                    last = reading
                    if last.matches(self.target_status, self.target_state):
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
            self.log.exception("Waiting for integration %s failed unexpectedly", self.integration_id)
            message = redact(f"{type(error).__name__}: {error}", secrets)
            yield self._event(
                "error", f"Waiting for integration {self.integration_id} failed: {message}", last
            )


class OktopostWaitTrigger(BaseTrigger):
    """Fire at ``moment`` (epoch seconds): how an operator sits out a rate-limit block without a worker.

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
