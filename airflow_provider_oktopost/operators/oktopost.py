"""Operators for the Oktopost Integrations API: connect, update, delete and list integrations.

Every operator checks its literal arguments when the DAG is parsed (a ``ValueError`` naming the argument,
no network call) and its templated ones right after rendering, before the first request. Shared behaviour
(connection, hook, rate-limit deferral, error mapping) lives in ``OktopostBaseOperator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_oktopost.core import clock, wire
from airflow_provider_oktopost.exceptions import PERMANENT_ERRORS, OktopostNotFoundError
from airflow_provider_oktopost.operators._base import MAX_RATE_LIMIT_DEFERRALS, OktopostBaseOperator
from airflow_provider_oktopost.operators.try_records import TryRecord
from airflow_provider_oktopost.validation import Check, check_settings, choice, is_templated, optional

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.models import Integration

IF_EXISTS_CHOICES = ("fail", "reuse")
#: Seconds by which Oktopost's clock may be behind the worker's when a ``Created`` time is compared with
#: the moment a try recorded that it sent a connect.
CLOCK_SKEW_MARGIN = 300.0


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

    **Evidence across tries.** Right before it sends the connect, a try writes a record (an Airflow
    Variable, see :mod:`airflow_provider_oktopost.operators.try_records`) keyed by this task instance (DAG,
    run, task, map index) and the target (API host, account, type, CNAME); once the answer arrives it adds
    the new Id. A later try (a retry, or a run of the task after a Clear) that finds an integration adopts
    it only when that record names it, or, if the earlier try's answer was lost, when the record shows a
    connect was sent after a check that found none (and Oktopost's ``Created`` time is not before it). XCom
    cannot carry this: Airflow clears a task's XComs when a new try starts. The one gap: when a connect's
    outcome stayed unknown to the end of its try and another client connected the same type and CNAME before
    the next try, the next try adopts that one.

    Within one try, the hook itself never double-creates when a connect response is lost (it looks before
    re-sending, see :func:`~airflow_provider_oktopost.core.operations.connect_integration`), and after a
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

    def _record(self, context: Context) -> TryRecord:
        """This task instance's record of the connect it sent (see :mod:`.try_records`)."""
        config = self.hook.config
        target = {
            "base_url": config.base_url,
            "account_id": config.account_id,
            "integration_type": str(self.integration_type),
            "cname_id": str(self.cname_id),
        }
        return TryRecord(context["ti"], "connect", target)

    def _work(self, context: Context) -> str:
        chosen = self._progress.get("integration_id")  # known when resuming after a rate-limit wait
        if not isinstance(chosen, str):
            record = self._record(context)
            # A first try that has sent nothing yet may use a listing shared by the deployment (a connect
            # then costs the POST and the read-back, not a page per 100 integrations of the type); a retry
            # or a resumed try looks at the server itself, since an earlier attempt (or the run before a
            # Clear, which also raises the try number) may have connected.
            fresh = int(context["ti"].try_number or 1) > 1 or bool(self._progress.get("checked_absent"))
            existing = self.hook.find_integrations(
                self.integration_type, self.cname_id, shared_listing=not fresh
            )
            if existing:
                chosen = self._choose(existing, record)
            else:
                self._progress["checked_absent"] = True
                # Written before the request: if the answer is lost and this try dies, the next try knows
                # that this task, not somebody else, may have created what it then finds.
                record.write(state="sent", sent_at=clock.wall(), try_number=_try_number(context))
                created = self.hook.connect_integration(
                    self.integration_type, self.cname_id, **_settings(self.settings)
                )
                record.write(
                    state="created",
                    sent_at=clock.wall(),
                    try_number=_try_number(context),
                    integration_id=created.id,
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
        context["ti"].xcom_push(key="integration", value=self._shown(integration))
        self._acted_on = [integration.to_dict()]
        return integration.id

    def _shown(self, integration: Integration) -> dict[str, Any]:
        return integration.to_dict()

    def _choose(self, existing: list[Integration], record: TryRecord) -> str:
        ids = ", ".join(item.id for item in existing)
        if len(existing) > 1:
            self.log.warning(
                "Several integrations of type %r on CNAME %s: %s", self.integration_type, self.cname_id, ids
            )
        if self._progress.get("checked_absent"):
            # Same try, after a rate-limit wait: this try saw none, then sent the connect.
            self.log.info(
                "Integration %s appeared after this try saw none and tried to connect one: it is "
                "the one this try connected; using it",
                existing[0].id,
            )
            return existing[0].id
        evidence = record.read()
        own = _own(existing, evidence)
        if own is not None:
            self.log.info(
                "Integration %s of type %r on CNAME %s was connected by an earlier try of this task "
                "(try %s, recorded in Variable %s); using it, not connecting another",
                own,
                self.integration_type,
                self.cname_id,
                (evidence or {}).get("try_number", "?"),
                record.key,
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


def _own(existing: list[Integration], evidence: dict[str, Any] | None) -> str | None:
    """The existing integration an earlier try of this task created, by the record it left, or ``None``.

    A record with the created Id names it (and nothing else qualifies: if that one is gone, what exists now
    is somebody else's). A record of a connect whose answer never arrived (``state="sent"``) proves this task
    sent a create after seeing none; an integration found then was created after that check, by that create
    (or, the one gap, by another client racing this task for the same type and CNAME), unless Oktopost says it
    was created before the record was written (``Created`` is compared with a margin for clock skew).
    """
    if not evidence:
        return None
    recorded = evidence.get("integration_id")
    if evidence.get("state") == "created" and isinstance(recorded, str):
        return recorded if any(item.id == recorded for item in existing) else None
    if evidence.get("state") != "sent" or len(existing) != 1:
        return None
    sent_at = evidence.get("sent_at")
    created = existing[0].created
    if (
        created is not None
        and isinstance(sent_at, int | float)
        and created.timestamp() < sent_at - CLOCK_SKEW_MARGIN
    ):
        return None
    return existing[0].id


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

    **Idempotent across tries.** Right before it sends the delete, a try records that it did (an Airflow
    Variable keyed by this task instance and the integration, see
    :mod:`airflow_provider_oktopost.operators.try_records`), and records the outcome once it is known. On a
    later try (a retry, or a run after a Clear), a 404 after an earlier try whose delete was sent and whose
    outcome was unknown (or which deleted it) is success, logged as such. A 404 with no such record (the
    first try, or an earlier try that itself got the 404) fails the task unless ``missing_ok=True``.

    :param integration_id: The integration to delete (templated).
    :param missing_ok: Treat an integration that is already gone (404) as deleted (logged), instead of
        failing the task.
    :param oktopost_conn_id: The ``oktopost`` connection (templated).
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("integration_id", "oktopost_conn_id")
    _checks: ClassVar[Mapping[str, Check]] = {"integration_id": wire.require_id}

    def __init__(self, *, integration_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self.missing_ok = missing_ok
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        config = self.hook.config
        record = TryRecord(
            context["ti"],
            "delete",
            {
                "base_url": config.base_url,
                "account_id": config.account_id,
                "integration_id": str(self.integration_id),
            },
        )
        earlier = record.read()
        record.write(state="sent", sent_at=clock.wall(), try_number=_try_number(context))
        try:
            self.hook.delete_integration(self.integration_id)
        except OktopostNotFoundError:
            # A definite answer: this try deleted nothing. Keep an earlier try's claim, if any.
            if earlier and earlier.get("state") in ("sent", "deleted"):
                record.write(**earlier)
                self.log.info(
                    "Integration %s does not exist; an earlier try of this task (try %s) sent its delete "
                    "and did not learn the outcome, so it is deleted: success",
                    self.integration_id,
                    earlier.get("try_number", "?"),
                )
                return str(self.integration_id)
            record.write(state="absent", sent_at=clock.wall(), try_number=_try_number(context))
            if not self.missing_ok:
                raise
            self.log.info(
                "Integration %s does not exist (already deleted); missing_ok=True, so this is a success",
                self.integration_id,
            )
        except PERMANENT_ERRORS:
            # Refused (401/403/4xx): certainly not deleted by this try; an earlier try's claim stands.
            record.write(**(earlier or {"state": "refused", "try_number": _try_number(context)}))
            raise
        else:
            record.write(state="deleted", sent_at=clock.wall(), try_number=_try_number(context))
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
