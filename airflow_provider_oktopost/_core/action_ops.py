"""Running one integration action (``POST /v2/integration-action``) as a sans-IO generator.

Actions run in the customer's CRM (Salesforce, HubSpot, Marketo): a read such as ``contact.getByEmail``
changes nothing, but ``lead.create`` makes a record each time it is sent. So an action is re-sent after a
failure that may have reached the server (timeout after sending, dropped connection, 5xx) only when the
caller says that is safe; otherwise that failure is raised as
:class:`~airflow_provider_oktopost.exceptions.OktopostActionOutcomeUnknownError` and nothing is sent
again. Failures that certainly did not reach the server (connection refused, 429) are retried as for every
call.
"""

from __future__ import annotations

from airflow_provider_oktopost._core import wire
from airflow_provider_oktopost._core.exactly_once import UnknownOutcome
from airflow_provider_oktopost._core.operations import Context, call
from airflow_provider_oktopost._core.steps import Op
from airflow_provider_oktopost.exceptions import OktopostActionOutcomeUnknownError
from airflow_provider_oktopost.models import ActionResult


def run_action(
    ctx: Context,
    integration_id: str,
    action_name: str,
    payload: object,
    *,
    safe_to_resend: bool | None = None,
) -> Op[ActionResult]:
    """Run ``action_name`` on integration ``integration_id`` with ``payload`` (a dict or a JSON string).

    ``safe_to_resend=None`` decides from the name: reads (:func:`.wire.is_read_action`) may be re-sent,
    anything else may not.
    """
    if safe_to_resend is None:
        safe_to_resend = wire.is_read_action(action_name)
    request = wire.action_request(integration_id, action_name, payload, safe_to_resend=safe_to_resend)
    try:
        data = yield from call(ctx, request)
    except UnknownOutcome as unknown:
        error = unknown.error
        raise OktopostActionOutcomeUnknownError(
            f"{error.message}. The action {action_name!r} may have run; it was not sent again because it is "
            "not declared safe to re-send (a write could run twice)",
            method=error.method,
            path=error.path,
            status=error.status,
            errors=error.errors,
        ) from None
    return ActionResult(integration_id, action_name, data.get("IntegrationAction"))


__all__ = ["run_action"]
