"""An operator that runs one integration action, e.g. to smoke-test a CRM integration that just got ready.

Actions run in the customer's CRM and may create or change records there, and their results may hold
personal data. So the operator is careful in two ways:

- **Sent at most once unless declared safe.** A read (``contact.getByEmail``, ``lead.search``: see
  :func:`~airflow_provider_oktopost._core.wire.is_read_action`) may be re-sent after a failure and retried by
  Airflow. Anything else is sent again neither after a failure whose outcome is unknown (the task fails
  without retry) nor on a later try whose earlier try may have run it, unless ``safe_to_resend=True``: by
  the provider's one rule for tries (``docs/operators.md``, "Retries, Clear and killed tasks"), a try
  records that the action may have left right before it does, so a later try refuses only then, and runs
  the action when the earlier try provably did not (refused by Oktopost, or never sent). When the record of
  sending cannot be stored, the action is not sent.
- **The result stays out of logs.** Only its shape is logged and returned (field names, record count);
  the whole result goes to XCom only with ``push_result=True``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_oktopost._core.validation import Check, encode_payload, require_action_name, require_id
from airflow_provider_oktopost.operators._base import OktopostBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.operators._evidence import TryEvidence


def _check_payload(name: str, value: Any) -> dict[str, Any]:
    """A dict, or a string holding a JSON object (what a template renders to); ``None`` is ``{}``."""
    if value is None:
        return {}
    encode_payload(name, value)
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)


def _check_flag(name: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be True, False or None, got {value!r}")
    return value


class OktopostRunIntegrationActionOperator(OktopostBaseOperator):
    """Run one action of a valid, active integration and return a summary of its result.

    Oktopost runs actions for Salesforce, Marketo and HubSpot integrations, only when the integration is
    valid and enabled (wait for that with :class:`.OktopostIntegrationSensor` first). A refusal (not ready,
    unknown action, missing field) fails the task without retry.

    The return value is :meth:`.ActionResult.summary`: ``integration_id``, ``action_name``,
    ``result_type``, ``fields`` (top-level field names) and ``records`` (how many records came back), never
    a value from the CRM. With ``push_result=True`` it also holds the whole result under ``data``: it then
    lands in XCom, where anyone who can read the DAG's XComs sees it.

    :param integration_id: The integration (``014...``; templated, ``connect.output`` works).
    :param action_name: The action, such as ``contact.getByEmail``, ``lead.getByEmail`` or ``lead.search``
        (templated).
    :param payload: The action's input: a dict, or a string holding a JSON object (templated), e.g.
        ``{"email": "someone@example.com"}``. Rendered template fields are shown in the Airflow UI: keep
        personal data out of a templated payload where that matters.
    :param safe_to_resend: May the action be sent again when an attempt's outcome is unknown (timeout,
        dropped connection, 5xx), and on a task retry? ``None`` (default) means yes for reads (the action
        name's verb is get, search, list, find, lookup, read or count) and no for anything else.
    :param push_result: Include the whole result under ``data`` in the return value (XCom).
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer (keeps a write within its first try).
    """

    template_fields = ("integration_id", "action_name", "payload")
    template_fields_renderers = {"payload": "json"}
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_id": require_id,
        "action_name": require_action_name,
        "payload": _check_payload,
    }

    def __init__(
        self,
        *,
        integration_id: str,
        action_name: str,
        payload: dict[str, Any] | str | None = None,
        safe_to_resend: bool | None = None,
        push_result: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self.action_name = action_name
        self.payload = payload
        self.safe_to_resend = _check_flag("safe_to_resend", safe_to_resend)
        self.push_result = bool(_check_flag("push_result", push_result))
        self._validate(rendered=False)

    def _resend_allowed(self) -> bool:
        if self.safe_to_resend is not None:
            return self.safe_to_resend
        from airflow_provider_oktopost._core.wire import is_read_action

        return is_read_action(self.action_name)

    def _work(self, context: Context) -> dict[str, Any]:
        safe = self._resend_allowed()
        # Evidence is kept only for what must not run twice: an action safe to re-send simply runs.
        tries = (
            None
            if safe
            else self._tries(
                context,
                "action",
                {
                    "integration_id": str(self.integration_id),
                    "action_name": str(self.action_name),
                    "payload": _digest(self.payload),
                },
                required=True,
            )
        )
        if tries is not None and tries.may_have_run:
            return self._ran_before(tries)
        from airflow_provider_oktopost.exceptions import OktopostActionOutcomeUnknownError

        try:
            with tries.watching(self.hook) if tries is not None else nullcontext():
                result = self.hook.run_action(
                    self.integration_id, self.action_name, self.payload or {}, safe_to_resend=safe
                )
        except OktopostActionOutcomeUnknownError as error:
            raise AirflowFailException(str(error)) from error
        summary = result.summary()
        if tries is not None:
            tries.done(summary=summary)
        self.log.info(
            "Action %s on integration %s returned a %s with %d record(s); fields: %s",
            self.action_name,
            self.integration_id,
            summary["result_type"],
            summary["records"],
            ", ".join(summary["fields"]) or "none",
        )
        return result.to_dict() if self.push_result else summary

    def _ran_before(self, tries: TryEvidence) -> dict[str, Any]:
        from airflow_provider_oktopost.operators._evidence import DONE

        """An earlier try may have run the action (or did): it is not sent again (module docs)."""
        summary = (tries.earlier or {}).get("summary")
        if tries.state == DONE and isinstance(summary, dict) and not self.push_result:
            self.log.info(
                "The action %r already ran in an earlier try of this task (%s); not running it again, "
                "returning that try's summary",
                self.action_name,
                tries.describe(),
            )
            return summary
        what = "ran" if tries.state == DONE else "may have run"
        raise AirflowFailException(
            f"Try {tries.try_number}: an earlier try of this task {what} the action {self.action_name!r} "
            f"({tries.describe()}); it is not declared safe to re-send, so it is not sent again. Check the "
            "CRM, or pass safe_to_resend=True"
        )


def _digest(payload: Any) -> str:
    """A short fingerprint of the payload, so a record is about this very action (no values kept)."""
    text = payload if isinstance(payload, str) else json.dumps(payload or {}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["OktopostRunIntegrationActionOperator"]
