"""Operators for the Oktopost Integrations API: connect, update, delete and list integrations.

Every operator checks its literal arguments when the DAG is parsed (a ``ValueError`` naming the argument,
no network call) and its templated ones right after rendering, before the first request. Shared behaviour
(connection, hook, rate-limit deferral, error mapping) lives in ``OktopostBaseOperator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_oktopost._core.validation import (
    STATES,
    STATUSES,
    Check,
    check_settings,
    choice,
    is_templated,
    optional,
    require_choice,
    require_id,
    require_type,
)
from airflow_provider_oktopost.operators._base import MAX_RATE_LIMIT_DEFERRALS, OktopostBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.models import Integration
    from airflow_provider_oktopost.operators._evidence import TryEvidence

IF_EXISTS_CHOICES = ("fail", "reuse")


def _settings(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The settings to send; after rendering they are a dict (a JSON string was parsed by the check)."""
    return dict(value) if isinstance(value, Mapping) else {}


class OktopostConnectIntegrationOperator(OktopostBaseOperator):
    """Connect a new Oktopost integration and return its Id.

    The return value (XCom ``return_value``) is the Id, so ``OktopostIntegrationSensor(integration_id=
    connect.output)`` chains; the whole integration, read back after connecting, is pushed under the XCom
    key ``integration`` (:meth:`.Integration.to_dict`).

    **What exists already.** Before connecting, the operator lists the integrations of this type on this
    CNAME. If one exists, it is used only when this task instance itself created it in an earlier try;
    otherwise ``if_exists`` decides, on every try: ``"reuse"`` returns it (logged), ``"fail"`` fails the task
    with ``AirflowFailException`` naming the existing Id(s) (no retry: retrying cannot help; after a Clear
    it fails again with the same message).

    **What it costs.** On a first try the look uses the deployment's shared listing of the type when one was
    taken within ``listing_ttl`` seconds (a connection extra, 600 by default; the provider's own connects,
    deletes and CNAME changes keep it current, but an integration another tool creates on the same CNAME in
    that time is not seen), so a connect costs the POST and the read-back instead of a listing page per 100
    integrations of the type. A retry, or a try after a Clear, always lists the server.

    **Retries, Clear and killed tasks** follow the provider's one rule (``docs/operators.md``, "Retries,
    Clear and killed tasks"; :mod:`~airflow_provider_oktopost.operators._evidence`): a later try adopts an
    integration only when an earlier try's evidence names it (``done``), or, when the earlier try's connect
    may have left but its answer never came (``sent``), the one integration of this type and CNAME created
    after it left. Everything else follows ``if_exists``, on every try. The one gap: when a connect's
    outcome stayed unknown to the end of its try and another client connected the same type and CNAME
    before the next try, the next try adopts that one.

    Within one try, the hook itself never double-creates when a connect response is lost (it looks before
    re-sending, see :func:`~airflow_provider_oktopost._core.operations.connect_integration`), and after a
    rate-limit wait (``deferrable=True``) the resumed try uses what it connected before the wait.

    :param integration_type: Integration type, e.g. ``cd``, ``ga``, ``pardot``, ``facebook`` (templated).
    :param cname_id: The CNAME (``0CN...``) the integration uses (templated).
    :param settings: Type-specific settings; a dict, or a JSON object string from a template (templated).
    :param if_exists: ``fail`` (default) or ``reuse``: what to do with an existing integration of this type
        on this CNAME that this task did not create (decided on every try).
    :param oktopost_conn_id: The ``oktopost`` connection (templated).
    :param deferrable: Wait out a rate-limit block in the triggerer (default: ``[operators]
        default_deferrable``).
    """

    template_fields = ("integration_type", "cname_id", "settings", "oktopost_conn_id")
    template_fields_renderers = {"settings": "json"}
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_type": require_type,
        "cname_id": require_id,
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
        self.if_exists = require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        chosen = self._progress.get("integration_id")  # known when resuming after a rate-limit wait
        if not isinstance(chosen, str):
            tries = self._tries(
                context,
                "connect",
                {"integration_type": str(self.integration_type), "cname_id": str(self.cname_id)},
            )
            # A first try with no evidence may use a listing shared by the deployment (a connect then
            # costs the POST and the read-back, not a page per 100 integrations of the type); a retry, a
            # try after a Clear, or one resumed after a rate-limit wait looks at the server itself.
            fresh = _try_number(context) > 1 or tries.earlier is not None or bool(self._progress)
            self._progress["looked"] = True
            existing = self.hook.find_integrations(
                self.integration_type, self.cname_id, shared_listing=not fresh
            )
            if not existing and (wait := tries.still_landing(self.hook.config.timeout)) > 0:
                self.log.warning(
                    "An earlier try of this task sent a connect and never learned its outcome (%s); looking "
                    "again in %.0fs, when Oktopost must have committed it if it ever will",
                    tries.describe(),
                    wait,
                )
                from airflow_provider_oktopost._core import clock

                clock.sleep(wait)
                existing = self.hook.find_integrations(self.integration_type, self.cname_id)
            if existing:
                chosen = self._choose(existing, tries)
            else:
                with tries.watching(self.hook):
                    created = self.hook.connect_integration(
                        self.integration_type, self.cname_id, **_settings(self.settings)
                    )
                tries.done(integration_id=created.id)
                self.log.info(
                    "Connected integration %s (type %r, CNAME %s)",
                    created.id,
                    self.integration_type,
                    self.cname_id,
                )
                chosen = created.id
            self._progress["integration_id"] = chosen
        integration = self.hook.get_integration(chosen)
        context["ti"].xcom_push(key="integration", value=self._shown(integration))
        self._acted_on = [integration.to_dict()]
        return integration.id

    def _shown(self, integration: Integration) -> dict[str, Any]:
        return integration.to_dict()

    def _choose(self, existing: list[Integration], tries: TryEvidence) -> str:
        ids = ", ".join(item.id for item in existing)
        if len(existing) > 1:
            self.log.warning(
                "Several integrations of type %r on CNAME %s: %s", self.integration_type, self.cname_id, ids
            )
        own = tries.own_creation(existing, "integration_id")
        if own is not None:
            self.log.info(
                "Integration %s of type %r on CNAME %s was connected by an earlier try of this task (%s); "
                "using it, not connecting another",
                own,
                self.integration_type,
                self.cname_id,
                tries.describe(),
            )
            return own
        if self.if_exists == "reuse":
            self.log.info(
                "Integration %s of type %r on CNAME %s already exists; reusing it (if_exists='reuse')",
                existing[0].id,
                self.integration_type,
                self.cname_id,
            )
            return existing[0].id
        raise AirflowFailException(
            f"An integration of type {self.integration_type!r} on CNAME {self.cname_id} already exists: "
            f"{ids}. Pass if_exists='reuse' to use it, or delete it first"
        )


def _try_number(context: Context) -> int:
    return int(getattr(context["ti"], "try_number", None) or 1)


class OktopostUpdateIntegrationOperator(OktopostBaseOperator):
    """Change an integration's state, CNAME or settings; returns its Id.

    :param integration_id: The integration to change (templated; ``connect.output`` works).
    :param state: ``active`` or ``disabled`` (templated).
    :param cname_id: A new CNAME (templated).
    :param settings: Settings to change; a dict, or a JSON object string from a template (templated).
    :param oktopost_conn_id: The ``oktopost`` connection (templated).
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("integration_id", "state", "cname_id", "settings", "oktopost_conn_id")
    template_fields_renderers = {"settings": "json"}
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_id": require_id,
        "state": choice(*STATES),
        "cname_id": optional(require_id),
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

    **Retries, Clear and killed tasks** follow the provider's one rule (``docs/operators.md``, "Retries,
    Clear and killed tasks"): a 404 is success when an earlier try's delete may have left (``sent``) or
    succeeded (``done``), logged as such. A 404 with no such evidence (the first try, an earlier try held by
    the budget, or one that itself got the 404) fails the task unless ``missing_ok=True``.

    :param integration_id: The integration to delete (templated).
    :param missing_ok: Treat an integration that is already gone (404) as deleted (logged), instead of
        failing the task.
    :param oktopost_conn_id: The ``oktopost`` connection (templated).
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("integration_id", "oktopost_conn_id")
    _checks: ClassVar[Mapping[str, Check]] = {"integration_id": require_id}

    def __init__(self, *, integration_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self.missing_ok = missing_ok
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        tries = self._tries(
            context, "delete", {"integration_id": str(self.integration_id)}, earlier_stands=True
        )
        from airflow_provider_oktopost.exceptions import OktopostNotFoundError

        try:
            with tries.watching(self.hook):
                self.hook.delete_integration(self.integration_id)
        except OktopostNotFoundError:
            # A definite answer: this try deleted nothing. Only an earlier try's evidence makes it success.
            if tries.may_have_run:
                self.log.info(
                    "Integration %s does not exist; an earlier try of this task sent its delete (%s), so "
                    "it is deleted: success",
                    self.integration_id,
                    tries.describe(),
                )
            elif self.missing_ok:
                self.log.info(
                    "Integration %s does not exist (already deleted); missing_ok=True, so this is a success",
                    self.integration_id,
                )
            else:
                raise
        else:
            tries.done()
            self.log.info("Deleted integration %s", self.integration_id)
        self._acted_on = [{"id": self.integration_id, "deleted": True}]
        return str(self.integration_id)


class OktopostListIntegrationsOperator(OktopostBaseOperator):
    """Return every matching integration as JSON-serialisable dicts (for audit DAGs); all pages are read.

    :param integration_type: Only this type (templated); ``None`` for all.
    :param status: Only ``valid`` or ``invalid`` integrations (templated); ``None`` for all.
    :param state: Only ``active`` or ``disabled`` integrations (templated); ``None`` for all.
    :param oktopost_conn_id: The ``oktopost`` connection (templated).
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("integration_type", "status", "state", "oktopost_conn_id")
    _checks: ClassVar[Mapping[str, Check]] = {
        "integration_type": optional(require_type),
        "status": choice(*STATUSES),
        "state": choice(*STATES),
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
