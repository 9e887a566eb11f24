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

from airflow_provider_oktopost._core.validation import (
    STATES,
    STATUSES,
    Check,
    check_hook_params,
    choice,
    require_id,
    seconds_or_none,
    validate_arguments,
)
from airflow_provider_oktopost.operators._base import _DEFERRAL_GRACE, DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.hooks.oktopost import OktopostHook
    from airflow_provider_oktopost.operators._try_records import TryRecord

# Like the operators, the sensor's module imports only what defining and constructing it needs; the hook,
# the core, the models and the exceptions are imported where the work happens.

#: How long a sensor goes on when every read fails with a transient error, by default.
DEFAULT_MAX_FAILING_TIME = timedelta(minutes=10)


class OktopostIntegrationSensor(BaseSensorOperator):
    """Wait until an integration has ``target_status`` and ``target_state``; returns it as a dict.

    Works in ``poke`` and ``reschedule`` mode, and deferred (``deferrable=True``): then it defers at once,
    without a call from the worker, and waits in the triggerer, whose per-account poller reads it in its
    first cycle (an integration that is already ready is seen within seconds; the trigger holds that
    success until 10 s after it started, because Airflow can fail a task whose trigger fires within seconds
    of its deferral) and then every
    ``poke_interval`` seconds until ``timeout`` seconds from now (an absolute deadline, so a triggerer
    restart does not extend it; ``execution_timeout``, when shorter, also ends the wait). A thousand
    sensors deferring together cost no calls until that first cycle, which reads them together.

    Refusals that waiting cannot fix (404: no such integration; 401/403: the key is refused; a broken
    connection) fail the task at once with ``AirflowFailException`` (no retries); with ``soft_fail=True``
    they, and the timeout, skip the task instead (``BaseSensorOperator``'s own handling). Server errors,
    network errors and rate limits are logged and the sensor keeps waiting, but not for ever: after
    ``max_failing_time`` of nothing but server or network failures (a wrong Base URL, DNS down, a proxy
    refusing; a rate limit is Oktopost answering and does not count) it
    raises :class:`~airflow_provider_oktopost.exceptions.OktopostWaitFailed` naming the last failure, in
    every mode. That error, and a trigger that fails for a reason that is not the integration's (the
    connection cannot be read, the triggerer's poller stopped), fail the try so that ``retries`` apply;
    ``soft_fail`` never turns them into a skip. In ``reschedule`` mode the start of a run of failures is kept
    between pokes in the task instance's ``task_state_store`` (Airflow 3.3+) or a try record Variable (3.0
    to 3.2), dropped as soon as a read works again; in the triggerer it is kept in memory, so a triggerer
    restart starts the count again.

    :param integration_id: The integration to wait for (templated; ``connect.output`` works).
    :param target_status: ``valid`` (default) or ``invalid``; ``None`` for any (templated).
    :param target_state: ``active`` (default) or ``disabled``; ``None`` for any (templated).
    :param oktopost_conn_id: The ``oktopost`` connection (templated).
    :param deferrable: Wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poke_interval: Seconds between checks, in every mode (also the trigger's poll interval).
    :param max_failing_time: Give up (retryably) after this long with nothing but transient failures
        (default 10 minutes; ``None``: only ``timeout`` ends the wait).
    :param hook_params: Client settings for this task: ``timeout`` (seconds per request) and
        ``max_retries``; they win over the connection's extras, in the worker and in the triggerer.
    """

    template_fields = ("integration_id", "target_status", "target_state", "oktopost_conn_id")
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_id": require_id,
        "target_status": choice(*STATUSES),
        "target_state": choice(*STATES),
    }

    def __init__(
        self,
        *,
        integration_id: str,
        target_status: str | None = "valid",
        target_state: str | None = "active",
        oktopost_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: timedelta | float = 60,
        max_failing_time: timedelta | float | None = DEFAULT_MAX_FAILING_TIME,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.integration_id = integration_id
        self.target_status = target_status
        self.target_state = target_state
        self.oktopost_conn_id = oktopost_conn_id
        self.deferrable = deferrable
        self.max_failing_time = seconds_or_none("max_failing_time", max_failing_time)
        self.hook_params = check_hook_params(hook_params)
        #: When this try's current run of transient read failures began (``None``: the last read worked).
        self._failing_since: float | None = None
        validate_arguments(self, self._checks, rendered=False)

    @cached_property
    def hook(self) -> OktopostHook:
        """The hook for ``oktopost_conn_id`` with ``hook_params``; its session is closed when a try ends."""
        from airflow_provider_oktopost.hooks.oktopost import OktopostHook

        return OktopostHook(self.oktopost_conn_id, **self.hook_params)

    def _target(self) -> str:
        from airflow_provider_oktopost.models import target_text

        return target_text(self.target_status, self.target_state)

    def execute(self, context: Context) -> Any:
        try:
            return self._execute(context)
        finally:
            if "hook" in self.__dict__:
                self.hook.close()  # the HTTP session of this try (poke, reschedule or first check)

    def _execute(self, context: Context) -> Any:
        self._failing_since = None
        try:
            validate_arguments(self, self._checks, rendered=True)
        except ValueError as error:
            self._fail(f"Invalid argument after rendering templates: {error}", error)
        if not self.deferrable:
            return self._emit_asset_events(context, super().execute(context))
        # No call from the worker: the triggerer's poller coalesces this read with every other wait.
        from airflow_provider_oktopost._core import clock
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
                max_failing_time=self.max_failing_time,
                hook_params=dict(self.hook_params),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=end_time - now) + _DEFERRAL_GRACE,
        )

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_provider_oktopost.exceptions import (
            PERMANENT_ERRORS,
            TRANSIENT_ERRORS,
            OktopostRateLimitError,
        )

        try:
            integration = self.hook.get_integration(self.integration_id)
        except PERMANENT_ERRORS as error:
            raise AirflowFailException(str(error)) from error
        except OktopostRateLimitError as error:
            # A 429, or nothing sent because the account's shared budget (or a block recorded after a 429)
            # holds the read back: either ends at a known time, so max_failing_time does not run on it.
            self.log.info("Integration %s not read yet: %s", self.integration_id, error)
            return PokeReturnValue(is_done=False)
        except TRANSIENT_ERRORS as error:
            self._read_failed(context, error)
            return PokeReturnValue(is_done=False)
        self._read_worked(context)
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

    # ---- a run of transient failures is bounded (max_failing_time) --------------------------------

    def _failure_record(self, context: Context) -> TryRecord | None:
        """Where reschedule mode keeps the start of a run of failures between pokes (other modes: memory)."""
        if not self.reschedule:
            return None
        from airflow_provider_oktopost.operators._try_records import record_for

        ti = context["ti"]
        return record_for(
            context,
            "sensor_failures",
            {"integration_id": str(self.integration_id), "try_number": str(getattr(ti, "try_number", 1))},
        )

    def _read_failed(self, context: Context, error: Exception) -> None:
        from airflow_provider_oktopost._core import clock
        from airflow_provider_oktopost.exceptions import OktopostWaitFailed

        now = clock.wall()
        record = self._failure_record(context)
        if self._failing_since is None and record is not None:
            since = (record.read() or {}).get("since")
            self._failing_since = since if isinstance(since, int | float) else None
        if self._failing_since is None:
            self._failing_since = now
            if record is not None:
                record.write(since=now)
        failing_for = now - self._failing_since
        if self.max_failing_time is not None and failing_for >= self.max_failing_time:
            raise OktopostWaitFailed(
                f"Reading integration {self.integration_id} failed for {failing_for:.0f}s without one good "
                f"reading (max_failing_time={self.max_failing_time:g}s); last failure: {error}"
            ) from error
        self.log.warning(
            "Could not read integration %s (failing for %.0fs), will try again: %s",
            self.integration_id,
            failing_for,
            error,
        )

    def _read_worked(self, context: Context) -> None:
        record = self._failure_record(context)
        if record is not None and (self._failing_since is not None or record.read()):
            record.delete()  # the run of failures is over: nothing of it is left behind
        self._failing_since = None

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
        if status == "failed":
            from airflow_provider_oktopost.exceptions import OktopostWaitFailed

            raise OktopostWaitFailed(message)
        raise AirflowException(f"The Oktopost trigger sent an unknown status {status!r}: {message}")


__all__ = ["OktopostIntegrationSensor"]
