"""``OktopostIntegrationSensor``: wait until an integration is valid and active (or any target)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_oktopost.core import clock, wire
from airflow_provider_oktopost.exceptions import PERMANENT_ERRORS, TRANSIENT_ERRORS
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.validation import Check, choice, validate_arguments

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

#: Added to ``timeout`` for Airflow's own deferral timeout, a backstop in case the trigger never runs: the
#: trigger's deadline (``end_time``) normally ends the wait first, with a clear timeout event.
_DEFERRAL_GRACE = timedelta(minutes=5)


class OktopostIntegrationSensor(BaseSensorOperator):
    """Wait until an integration has ``target_status`` and ``target_state``; returns it as a dict.

    Works in ``poke`` and ``reschedule`` mode, and deferred (``deferrable=True``): then it checks once in
    the worker (an integration that is already ready costs no trigger) and otherwise waits in the triggerer,
    reading every ``poke_interval`` seconds until ``timeout`` seconds from now (an absolute deadline, so a
    triggerer restart does not extend it; ``execution_timeout``, when shorter, also ends the wait).

    Refusals that waiting cannot fix (404: no such integration; 401/403: the key is refused; a broken
    connection) fail the task at once with ``AirflowFailException`` (no retries). Server errors, network
    errors and rate limits are logged and the sensor keeps waiting, within ``timeout``. With
    ``soft_fail=True`` every failure and the timeout skip the task instead: this is ``BaseSensorOperator``'s
    own handling (in the poke loop and in ``resume_execution``), which the sensor leaves in charge.

    :param integration_id: The integration to wait for (templated; ``connect.output`` works).
    :param target_status: ``valid`` (default) or ``invalid``; ``None`` for any (templated).
    :param target_state: ``active`` (default) or ``disabled``; ``None`` for any (templated).
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poke_interval: Seconds between checks, in every mode (also the trigger's poll interval).
    """

    template_fields = ("integration_id", "target_status", "target_state")
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_id": wire.require_id,
        "target_status": choice(*wire.STATUSES),
        "target_state": choice(*wire.STATES),
    }

    def __init__(
        self,
        *,
        integration_id: str,
        target_status: str | None = "valid",
        target_state: str | None = "active",
        oktopost_conn_id: str = OktopostHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: timedelta | float = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.integration_id = integration_id
        self.target_status = target_status
        self.target_state = target_state
        self.oktopost_conn_id = oktopost_conn_id
        self.deferrable = deferrable
        validate_arguments(self, self._checks, rendered=False)

    @cached_property
    def hook(self) -> OktopostHook:
        """The hook for ``oktopost_conn_id``, created on first use (never at parse time)."""
        return OktopostHook(self.oktopost_conn_id)

    def _target(self) -> str:
        return f"status={self.target_status or 'any'}, state={self.target_state or 'any'}"

    def execute(self, context: Context) -> Any:
        try:
            validate_arguments(self, self._checks, rendered=True)
        except ValueError as error:
            self._fail(f"Invalid argument after rendering templates: {error}", error)
        if not self.deferrable:
            return self._emit_asset_events(context, super().execute(context))
        first = self._poke_or_fail(context)
        if first:
            return self._emit_asset_events(context, first.xcom_value)
        from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

        now = clock.wall()
        end_time = now + self.timeout
        if self.execution_timeout is not None:
            end_time = min(end_time, now + self.execution_timeout.total_seconds())
        self.defer(
            trigger=OktopostIntegrationTrigger(
                integration_id=self.integration_id,
                oktopost_conn_id=self.oktopost_conn_id,
                target_status=self.target_status,
                target_state=self.target_state,
                poll_interval=self.poke_interval,
                end_time=end_time,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=end_time - now) + _DEFERRAL_GRACE,
        )

    def poke(self, context: Context) -> PokeReturnValue:
        try:
            integration = self.hook.get_integration(self.integration_id)
        except PERMANENT_ERRORS as error:
            raise AirflowFailException(str(error)) from error
        except TRANSIENT_ERRORS as error:
            self.log.warning("Could not read integration %s, will try again: %s", self.integration_id, error)
            return PokeReturnValue(is_done=False)
        if integration.matches(self.target_status, self.target_state):
            self.log.info("Integration %s reached %s", self.integration_id, self._target())
            return PokeReturnValue(is_done=True, xcom_value=integration.to_dict())
        data = integration.to_dict()
        self.log.info(
            "Integration %s is status=%s, state=%s; waiting for %s",
            self.integration_id,
            data["status"],
            data["state"],
            self._target(),
        )
        return PokeReturnValue(is_done=False)

    def _emit_asset_events(self, context: Context, integration: Any) -> Any:
        """Asset events for ``oktopost`` outlets and aliases (:mod:`..assets`); returns ``integration``."""
        from airflow_provider_oktopost.assets import emit_integration_events, wants_integration_events

        if isinstance(integration, dict) and wants_integration_events(self):
            config = self.hook.config
            emit_integration_events(
                self, context, [integration], base_url=config.base_url, account_id=config.account_id
            )
        return integration

    def _poke_or_fail(self, context: Context) -> PokeReturnValue:
        """One poke outside ``BaseSensorOperator.execute``, with its soft_fail/never_fail handling."""
        try:
            return self.poke(context)
        except AirflowFailException as error:
            self._fail(str(error), error)

    def _fail(self, message: str, cause: BaseException) -> NoReturn:
        """Fail without retry, or skip when ``soft_fail``/``never_fail`` asks for it."""
        if self.soft_fail or getattr(self, "never_fail", False):
            raise AirflowSkipException(f"{message} (skipped: soft_fail)") from cause
        raise AirflowFailException(message) from cause

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: return the integration, or fail (closed) on anything else.

        Raised errors reach ``BaseSensorOperator.resume_execution``, which turns them into a skip when
        ``soft_fail`` is set (Airflow 3.0 and later), so they are not converted here.
        """
        if not isinstance(event, dict):
            raise AirflowException(
                f"The Oktopost trigger returned no usable event ({type(event).__name__}); failing closed"
            )
        status, message = event.get("status"), str(event.get("message") or "no message")
        if status == "success":
            integration = event.get("integration")
            if not isinstance(integration, dict):
                raise AirflowException(
                    f"The Oktopost trigger reported success without an integration: {message}"
                )
            self.log.info("%s", message)
            return self._emit_asset_events(context, integration)
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        if status == "error":
            raise AirflowFailException(message)
        raise AirflowException(f"The Oktopost trigger sent an unknown status {status!r}: {message}")


__all__ = ["OktopostIntegrationSensor"]
