"""What every Oktopost operator shares: the connection and hook, argument checks, and rate-limit handling.

A subclass declares its argument checks in ``_checks`` and implements ``_work(context)``. The base class
checks literal arguments in ``__init__`` (DAG parse time, no network), checks the rendered values at the
start of ``execute`` (before any request), runs ``_work`` and turns Oktopost's refusals into the right
Airflow outcome:

- 401/403/404/other 4xx/a broken connection: ``AirflowFailException``, because retrying cannot help;
- rate limited (a 429, a block another process recorded, or a turn in the deployment's shared call budget
  further away than ``budget_max_wait``): in deferrable mode the task defers until then (no worker slot is
  held), then runs ``_work`` again; otherwise, or after :data:`MAX_RATE_LIMIT_DEFERRALS` blocks, an
  :class:`~airflow_provider_oktopost.exceptions.OktopostRateLimitError` saying when to retry, which
  Airflow's task ``retries`` handle. Waiting for a turn (no block) does not count towards the cap: it ends
  within the budget's window;
- server and network errors (after the hook's own retries): raised unchanged, for ``retries``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator, conf

from airflow_provider_oktopost._core.validation import Check, check_hook_params, validate_arguments

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.exceptions import OktopostRateLimitError
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook
    from airflow_provider_oktopost.operators._evidence import TryEvidence

# The DAG-parse path (see ``tests/operators/test_parse_time_imports.py``): defining and constructing an
# operator needs only this module, the argument checks and Airflow's own classes. The hook, the transport
# core, the models and the evidence of tries are imported where the work happens.

#: The connection id used when none is given (``OktopostHook.default_conn_name``, without importing the hook).
DEFAULT_CONN_ID = "oktopost_default"
#: How many times one task try sits out a rate-limit block before it gives up and fails (retryably).
MAX_RATE_LIMIT_DEFERRALS = 3
#: Extra time Airflow grants a rate-limit wait before it declares the deferral timed out (a backstop only:
#: the wait trigger fires at the end of the block).
_DEFERRAL_GRACE = timedelta(minutes=5)


def _moment(epoch: float) -> str:
    from airflow_provider_oktopost.triggers.oktopost import format_moment

    return format_moment(epoch)


class OktopostBaseOperator(BaseOperator):
    """Base class of the Oktopost operators (see the module docstring).

    :param oktopost_conn_id: The ``oktopost`` connection to use.
    :param deferrable: Sit out a rate-limit block in the triggerer instead of failing the try. Defaults to
        ``[operators] default_deferrable``.
    :param hook_params: Client settings for this task: ``timeout`` (seconds per request) and
        ``max_retries``; they win over the connection's extras.
    """

    #: Attribute name -> check; literal values are checked at parse time, rendered ones in ``execute``.
    _checks: ClassVar[Mapping[str, Check]] = {}

    def __init__(
        self,
        *,
        oktopost_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.oktopost_conn_id = oktopost_conn_id
        self.deferrable = deferrable
        self.hook_params = check_hook_params(hook_params)
        #: Progress of this try that must survive a rate-limit deferral (plain JSON values).
        self._progress: dict[str, Any] = {}
        #: The integrations ``_work`` acted on (``Integration.to_dict()``), for the outlets' asset events.
        self._acted_on: list[dict[str, Any]] = []
        #: This try's evidence of its writes (:mod:`.evidence`), settled when the task succeeds.
        self._evidence: list[TryEvidence] = []

    @cached_property
    def hook(self) -> OktopostHook:
        """The hook for ``oktopost_conn_id`` with ``hook_params``; it looks the connection up on first use."""
        from airflow_provider_oktopost.hooks.oktopost import OktopostHook

        return OktopostHook(self.oktopost_conn_id, **self.hook_params)

    # ---- argument checks ---------------------------------------------------------------------------

    def _validate(self, *, rendered: bool) -> None:
        """Check the arguments; before rendering, templated values are skipped (see ``validation``)."""
        validate_arguments(self, self._checks, rendered=rendered)

    def _validate_rendered(self) -> None:
        try:
            self._validate(rendered=True)
        except ValueError as error:
            # The same rendering would fail again on a retry: fail the task for good.
            raise AirflowFailException(f"Invalid argument after rendering templates: {error}") from error

    # ---- running -----------------------------------------------------------------------------------

    def _work(self, context: Context) -> Any:
        """Do the operator's calls and return its XCom value; may be run again after a rate-limit wait."""
        raise NotImplementedError

    def _tries(
        self, context: Context, action: str, target: Mapping[str, str], **options: bool
    ) -> TryEvidence:
        """The evidence of one write across this task instance's tries: the one rule (:mod:`.evidence`).

        ``target`` names what is acted on; the API host and account are added.
        """
        from airflow_provider_oktopost.operators._evidence import TryEvidence

        config = self.hook.config
        full = {"base_url": config.base_url, "account_id": config.account_id, **target}
        evidence = TryEvidence(context, action, full, **options)
        self._evidence.append(evidence)
        return evidence

    def execute(self, context: Context) -> Any:
        # A new try starts with no progress: the operator object may outlive a try in one process
        # (``dag.test()`` runs every try in-process), and a retry must not trust the last try's memory.
        self._progress = {}
        self._validate_rendered()
        return self._attempt(context, deferrals=0)

    def resume_after_rate_limit(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Called when the rate-limit wait is over: run the same work again, with the saved progress."""
        if not isinstance(event, dict) or event.get("status") != "resume":
            raise AirflowException(f"Unexpected event while waiting out a rate limit: {event!r}")
        payload = event.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        progress = payload.get("progress")
        self._progress = dict(progress) if isinstance(progress, dict) else {}
        deferrals = payload.get("deferrals")
        self._validate_rendered()
        return self._attempt(context, deferrals=deferrals if isinstance(deferrals, int) else 1)

    def _attempt(self, context: Context, *, deferrals: int) -> Any:
        from airflow_provider_oktopost._core import clock, observe
        from airflow_provider_oktopost.exceptions import (
            PERMANENT_ERRORS,
            OktopostBudgetWaitError,
            OktopostRateLimitError,
        )

        self._evidence = []
        try:
            result = self._work(context)
            self._emit_asset_events(context)
            for evidence in self._evidence:
                evidence.finish()
            return result
        except OktopostRateLimitError as error:
            resume_at = clock.wall() + error.retry_after
            turn_only = isinstance(error, OktopostBudgetWaitError) and not error.blocked
            if self.deferrable and (turn_only or deferrals < MAX_RATE_LIMIT_DEFERRALS):
                self._defer_until(resume_at, error, deferrals if turn_only else deferrals + 1)
            observe.failing_try(self.hook.config, error)
            raise OktopostRateLimitError(
                f"{error.message}. Retry after {_moment(resume_at)} (in {error.retry_after:.0f}s)"
                + (
                    f"; gave up after waiting out {deferrals} rate-limit block(s)"
                    if deferrals
                    else "; set retry_delay to at least that, or deferrable=True to wait in the triggerer"
                ),
                retry_after=error.retry_after,
                method=error.method,
                path=error.path,
                status=error.status,
                errors=error.errors,
            ) from error
        except PERMANENT_ERRORS as error:
            raise AirflowFailException(str(error)) from error
        finally:
            self.hook.close()

    def _integrations_for_events(self) -> list[dict[str, Any]]:
        """What the outlets' asset events describe; a subclass may read the integration here."""
        return list(self._acted_on)

    def _emit_asset_events(self, context: Context) -> None:
        """Asset events for ``oktopost`` outlets and aliases (:mod:`..assets`); nothing without outlets."""
        from airflow_provider_oktopost.assets import emit_integration_events, wants_integration_events

        if wants_integration_events(self):
            config = self.hook.config
            integrations = self._integrations_for_events()
            emit_integration_events(
                self, context, integrations, base_url=config.base_url, account_id=config.account_id
            )

    def _defer_until(self, resume_at: float, error: OktopostRateLimitError, deferrals: int) -> None:
        from airflow_provider_oktopost._core import observe
        from airflow_provider_oktopost.triggers.oktopost import OktopostWaitTrigger

        observe.deferring(self.hook.config, error)
        self.log.warning(
            "%s. Deferring until %s (rate-limit wait %d of at most %d), then trying again",
            error.message,
            _moment(resume_at),
            deferrals,
            MAX_RATE_LIMIT_DEFERRALS,
        )
        self.defer(
            trigger=OktopostWaitTrigger(
                moment=resume_at, payload={"deferrals": deferrals, "progress": dict(self._progress)}
            ),
            method_name="resume_after_rate_limit",
            timeout=timedelta(seconds=error.retry_after) + _DEFERRAL_GRACE,
        )


__all__ = ["DEFAULT_CONN_ID", "MAX_RATE_LIMIT_DEFERRALS", "OktopostBaseOperator"]
