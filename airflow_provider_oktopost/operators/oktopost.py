"""Operators for the Oktopost Integrations API: connect, update, delete and list integrations.

Every operator checks its literal arguments when the DAG is parsed (a ``ValueError`` naming the argument,
no network call) and its templated ones right after rendering, before the first request. Shared behaviour
(connection, hook, rate-limit deferral, error mapping) lives in :class:`.OktopostBaseOperator`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_oktopost.core import wire
from airflow_provider_oktopost.exceptions import OktopostNotFoundError
from airflow_provider_oktopost.operators._base import MAX_RATE_LIMIT_DEFERRALS, OktopostBaseOperator
from airflow_provider_oktopost.validation import Check, check_settings, choice, is_templated, optional

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.models import Integration

IF_EXISTS_CHOICES = ("fail", "reuse")


def _settings(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The settings to send; after rendering they are a dict (a JSON string was parsed by the check)."""
    return dict(value) if isinstance(value, Mapping) else {}


class OktopostConnectIntegrationOperator(OktopostBaseOperator):
    """Connect a new Oktopost integration and return its Id.

    The return value (XCom ``return_value``) is the Id, so ``OktopostIntegrationSensor(integration_id=
    connect.output)`` chains; the whole integration, read back after connecting, is pushed under the XCom
    key ``integration`` (:meth:`Integration.to_dict`).

    **Never a duplicate.** Before connecting, the operator lists the integrations of this type on this
    CNAME. If one exists:

    - on the task's first try, ``if_exists="reuse"`` returns it (logged) and ``if_exists="fail"`` fails
      the task with ``AirflowFailException`` naming the existing Id(s): no retry, since retrying cannot help;
    - on a retry (``try_number > 1``) it is taken to be the one try 1 created, and reused whatever
      ``if_exists`` says. The reasoning: had it existed before try 1, try 1 would have found it and failed
      with ``AirflowFailException``, which is not retried; so a retry only happens when try 1 saw none, and
      what exists now was created by try 1 (whose response, or read-back, was lost). The one gap: if try 1
      failed *before* its check completed (a network error while listing) and someone else connected the
      same type and CNAME before try 2, try 2 adopts that integration.
    - after a rate-limit wait (``deferrable=True``) in the same try, the same rule applies once this try
      has checked and seen none, so the resumed work never connects a second one either.

    The hook itself never double-creates when a connect response is lost (it looks before re-sending).

    :param integration_type: Integration type, e.g. ``cd``, ``ga``, ``pardot``, ``facebook`` (templated).
    :param cname_id: The CNAME (``0CN...``) the integration uses (templated).
    :param settings: Type-specific settings; a dict, or a JSON object string from a template (templated).
    :param if_exists: ``fail`` (default) or ``reuse``: what to do with an existing integration of this type
        on this CNAME on the first try.
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer (default: ``[operators]
        default_deferrable``).
    """

    template_fields = ("integration_type", "cname_id", "settings")
    template_fields_renderers = {"settings": "json"}
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_type": wire.require_type,
        "cname_id": wire.require_id,
        "settings": check_settings,
    }

    def __init__(
        self,
        *,
        integration_type: str,
        cname_id: str,
        settings: dict[str, Any] | str | None = None,
        if_exists: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.integration_type = integration_type
        self.cname_id = cname_id
        self.settings = settings
        self.if_exists = wire.require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        chosen = self._progress.get("integration_id")  # known when resuming after a rate-limit wait
        if not isinstance(chosen, str):
            existing = self.hook.find_integrations(self.integration_type, self.cname_id)
            if existing:
                chosen = self._choose(existing, int(context["ti"].try_number or 1))
            else:
                self._progress["checked_absent"] = True
                created = self.hook.connect_integration(
                    self.integration_type, self.cname_id, **_settings(self.settings)
                )
                self.log.info(
                    "Connected integration %s (type %r, CNAME %s)",
                    created.id,
                    self.integration_type,
                    self.cname_id,
                )
                chosen = created.id
            self._progress["integration_id"] = chosen
        integration = self.hook.get_integration(chosen)
        context["ti"].xcom_push(key="integration", value=integration.to_dict())
        self._acted_on = [integration.to_dict()]
        return integration.id

    def _choose(self, existing: list[Integration], try_number: int) -> str:
        ids = ", ".join(item.id for item in existing)
        chosen = existing[0].id
        if len(existing) > 1:
            self.log.warning(
                "Several integrations of type %r on CNAME %s: %s", self.integration_type, self.cname_id, ids
            )
        if self._progress.get("checked_absent"):
            self.log.info(
                "Integration %s appeared after this try saw none and tried to connect one: it is "
                "the one this try connected; using it",
                chosen,
            )
        elif try_number > 1:
            self.log.info(
                "Try %d: integration %s of type %r on CNAME %s exists; it was connected by an earlier try "
                "(which would otherwise have failed without retry), so it is reused, not connected again",
                try_number,
                chosen,
                self.integration_type,
                self.cname_id,
            )
        elif self.if_exists == "reuse":
            self.log.info(
                "Integration %s of type %r on CNAME %s already exists; reusing it (if_exists='reuse')",
                chosen,
                self.integration_type,
                self.cname_id,
            )
        else:
            raise AirflowFailException(
                f"An integration of type {self.integration_type!r} on CNAME {self.cname_id} already exists: "
                f"{ids}. Pass if_exists='reuse' to use it, or delete it first"
            )
        return chosen


class OktopostUpdateIntegrationOperator(OktopostBaseOperator):
    """Change an integration's state, CNAME or settings; returns its Id.

    :param integration_id: The integration to change (templated; ``connect.output`` works).
    :param state: ``active`` or ``disabled`` (templated).
    :param cname_id: A new CNAME (templated).
    :param settings: Settings to change; a dict, or a JSON object string from a template (templated).
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("integration_id", "state", "cname_id", "settings")
    template_fields_renderers = {"settings": "json"}
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_id": wire.require_id,
        "state": choice(*wire.STATES),
        "cname_id": optional(wire.require_id),
        "settings": check_settings,
    }

    def __init__(
        self,
        *,
        integration_id: str,
        state: str | None = None,
        cname_id: str | None = None,
        settings: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self.state = state
        self.cname_id = cname_id
        self.settings = settings
        self._validate(rendered=False)

    def _validate(self, *, rendered: bool) -> None:
        super()._validate(rendered=rendered)
        changes = (self.state, self.cname_id, self.settings)
        if not any(is_templated(value) for value in changes) and not any(changes):
            raise ValueError("nothing to update: pass at least one of state, cname_id or settings")

    def _work(self, context: Context) -> str:
        self.hook.update_integration(
            self.integration_id, state=self.state, cname_id=self.cname_id, **_settings(self.settings)
        )
        changed = [name for name in ("state", "cname_id") if getattr(self, name) is not None]
        changed += [f"settings[{key!r}]" for key in _settings(self.settings)]
        self.log.info("Updated integration %s: %s", self.integration_id, ", ".join(changed))
        return self.integration_id

    def _integrations_for_events(self) -> list[dict[str, Any]]:
        # Only with oktopost outlets: one read, so the event says what the integration is now.
        return [self.hook.get_integration(self.integration_id).to_dict()]


class OktopostDeleteIntegrationOperator(OktopostBaseOperator):
    """Delete an integration (it cannot be undone); returns its Id.

    :param integration_id: The integration to delete (templated).
    :param missing_ok: Treat an integration that is already gone (404) as deleted (logged), instead of
        failing the task.
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("integration_id",)
    _checks: ClassVar[Mapping[str, Check]] = {"integration_id": wire.require_id}

    def __init__(self, *, integration_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self.missing_ok = missing_ok
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        try:
            self.hook.delete_integration(self.integration_id)
        except OktopostNotFoundError:
            if not self.missing_ok:
                raise
            self.log.info(
                "Integration %s does not exist (already deleted); missing_ok=True, so this is a success",
                self.integration_id,
            )
        else:
            self.log.info("Deleted integration %s", self.integration_id)
        self._acted_on = [{"id": self.integration_id, "deleted": True}]
        return self.integration_id


class OktopostListIntegrationsOperator(OktopostBaseOperator):
    """Return every matching integration as JSON-serialisable dicts (for audit DAGs); all pages are read.

    :param integration_type: Only this type (templated); ``None`` for all.
    :param status: Only ``valid`` or ``invalid`` integrations (templated); ``None`` for all.
    :param state: Only ``active`` or ``disabled`` integrations (templated); ``None`` for all.
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("integration_type", "status", "state")
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_type": optional(wire.require_type),
        "status": choice(*wire.STATUSES),
        "state": choice(*wire.STATES),
    }

    def __init__(
        self,
        *,
        integration_type: str | None = None,
        status: str | None = None,
        state: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.integration_type = integration_type
        self.status = status
        self.state = state
        self._validate(rendered=False)

    def _work(self, context: Context) -> list[dict[str, Any]]:
        found = [
            item.to_dict()
            for item in self.hook.iter_integrations(self.integration_type)
            if item.matches(self.status, self.state)
        ]
        self._acted_on = found
        self.log.info(
            "Found %d integration(s) (type=%s, status=%s, state=%s)",
            len(found),
            self.integration_type or "any",
            self.status or "any",
            self.state or "any",
        )
        return found


__all__ = [
    "MAX_RATE_LIMIT_DEFERRALS",
    "OktopostConnectIntegrationOperator",
    "OktopostDeleteIntegrationOperator",
    "OktopostListIntegrationsOperator",
    "OktopostUpdateIntegrationOperator",
]
