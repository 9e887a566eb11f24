"""Typed errors raised by the Oktopost provider.

Every error is an :class:`OktopostError` (itself an ``AirflowException``), so a DAG author can catch one
class, while operators and sensors can tell a permanent refusal (auth, not found, bad request) from a
transient condition (rate limit, server error, network) and react differently. Messages name the method,
the path and the status, and carry the server's own error text; they never carry the API key.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException


class OktopostError(AirflowException):
    """Base class of every error this provider raises about the Oktopost API or its configuration."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        errors: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.errors = errors

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only state must survive pickling (Airflow pickles exceptions across process boundaries).
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[OktopostError], message: str, state: dict[str, object]) -> OktopostError:
    err = cls.__new__(cls)
    AirflowException.__init__(err, message)
    err.__dict__.update(state)
    return err


class OktopostConfigError(OktopostError):
    """The Airflow connection is incomplete or wrong (missing Account ID or API key, unknown region...)."""


class OktopostAuthError(OktopostError):
    """HTTP 401 or 403: the key is wrong, or its user may not do this. Retrying will not help."""


class OktopostNotFoundError(OktopostError):
    """HTTP 404: the object does not exist, or the key's user cannot see it."""


class OktopostApiError(OktopostError):
    """The API refused the request: another 4xx, or a body saying ``"Result": false`` whatever the status."""


class OktopostServerError(OktopostError):
    """HTTP 5xx after the retry budget was spent: Oktopost is having trouble; a later try may succeed."""


class OktopostRateLimitError(OktopostError):
    """HTTP 429 after the retry budget was spent.

    The real API blocks a key for about 15 minutes after a burst and sends no ``Retry-After``, so
    ``retry_after`` is the server's hint when there is one and the documented block otherwise. Operators
    and sensors use it to wait without holding a worker slot.
    """

    def __init__(self, message: str, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class OktopostBudgetWaitError(OktopostRateLimitError):
    """The request was not sent: the account's shared call budget has no free call within the bound.

    Raised before sending, when this process would wait longer than the budget's ``max_wait`` for its turn
    (the budget is spent by the deployment's other processes, or the key is blocked after a 429).
    ``retry_after`` says when the turn comes; operators defer until then or fail the try retryably.
    ``blocked`` is True when the wait is a block recorded after a 429, False when it is only the queue.
    """

    def __init__(self, message: str, *, retry_after: float, blocked: bool = False, **kwargs: object) -> None:
        super().__init__(message, retry_after=retry_after, **kwargs)
        self.blocked = blocked


class OktopostTransportError(OktopostError):
    """The request could not be completed: connection refused or dropped, timeout, or an unreadable body.

    ``outcome_unknown`` is True when the request may have reached the server and been acted on.
    """

    def __init__(self, message: str, *, outcome_unknown: bool = False, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.outcome_unknown = outcome_unknown


class OktopostActionOutcomeUnknownError(OktopostError):
    """An integration action may have run, and was not sent again: re-sending it was not declared safe.

    Retrying could run the action twice (a ``lead.create`` would make two leads), so the action operator
    fails without retry; check the CRM, or declare the action safe to re-send.
    """


class OktopostWaitFailed(Exception):
    """A wait for an integration failed for a reason that is not the integration's; the try is retried.

    Raised by :class:`~airflow_provider_oktopost.sensors.oktopost.OktopostIntegrationSensor` when its reads
    kept failing with transient errors for ``max_failing_time`` (the message names the last failure), or
    when its trigger failed (the connection could not be read, the shared poller stopped). Deliberately
    not an ``AirflowException``: ``BaseSensorOperator`` turns those into a skip under ``soft_fail``, and a
    broken network or triggerer must not pass for "skipped".
    """


#: Refusals that another attempt cannot change: wrong key or permission (401/403), no such object (404),
#: a rejected request (other 4xx, ``Result: false``) or a broken connection definition.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    OktopostAuthError,
    OktopostNotFoundError,
    OktopostApiError,
    OktopostConfigError,
)
#: Conditions that pass: rate limit, Oktopost server trouble, network failures.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OktopostRateLimitError,
    OktopostServerError,
    OktopostTransportError,
)


__all__ = [
    "PERMANENT_ERRORS",
    "TRANSIENT_ERRORS",
    "OktopostActionOutcomeUnknownError",
    "OktopostApiError",
    "OktopostAuthError",
    "OktopostBudgetWaitError",
    "OktopostConfigError",
    "OktopostError",
    "OktopostNotFoundError",
    "OktopostRateLimitError",
    "OktopostServerError",
    "OktopostTransportError",
    "OktopostWaitFailed",
]
