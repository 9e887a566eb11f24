"""Operators for CNAMEs, the custom domains integrations run on: create (or reuse) one, delete one.

A CNAME must exist in Oktopost before an integration can be connected on it, so an onboarding DAG starts
with :class:`OktopostCreateCnameOperator` and hands its Id to the connect operator
(``connect.cname_id = create_cname.output``). Arguments are checked as for the integration operators:
literal values when the DAG is parsed (no network call), templated ones right after rendering, before the
first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_oktopost._core.validation import Check, require_choice, require_host_name, require_id
from airflow_provider_oktopost.operators._base import OktopostBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.models import Cname
    from airflow_provider_oktopost.operators._evidence import TryEvidence

IF_EXISTS_CHOICES = ("fail", "reuse")


class OktopostCreateCnameOperator(OktopostBaseOperator):
    """Register a host name as a CNAME in Oktopost and return its Id (``0CN...``).

    The return value (XCom ``return_value``) is the Id, so ``OktopostConnectIntegrationOperator(cname_id=
    create_cname.output, ...)`` chains; the whole record is pushed under the XCom key ``cname``
    (:meth:`.Cname.to_dict`). The host name must already be a DNS CNAME pointing to ``okt.to`` at your
    registrar: Oktopost registers the name, it does not create DNS records.

    **Never a duplicate.** The operator first looks for a CNAME with this host name (case and a trailing
    dot do not matter). If one exists, it is used when an earlier try of this task registered it, by the
    provider's one rule for tries (``docs/operators.md``, "Retries, Clear and killed tasks": the earlier
    try's evidence names it, or its create may have left and this is the one CNAME made after that).
    Otherwise ``if_exists`` decides, on every try: ``"reuse"`` returns it, ``"fail"`` fails the task with
    ``AirflowFailException`` naming its Id (no retry: retrying cannot help).

    The hook itself never creates twice when a create response is lost (it looks before re-sending). When
    two tasks register the same name at once and Oktopost refuses the second, that task looks the name up
    and applies ``if_exists`` to the CNAME the other one registered.

    :param host_name: The host name, such as ``links.example.com`` (templated). A bare DNS name: no
        scheme, path or port; it is lower-cased.
    :param if_exists: ``fail`` (default) or ``reuse``: what to do when the host name is already registered
        and this task did not register it (decided on every try).
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer (default: ``[operators]
        default_deferrable``).
    """

    template_fields = ("host_name",)
    _checks: ClassVar[Mapping[str, Check]] = {"host_name": require_host_name}

    def __init__(self, *, host_name: str, if_exists: str = "fail", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host_name = host_name
        self.if_exists = require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        chosen = self._progress.get("cname_id")  # known when resuming after a rate-limit wait
        cname: Cname | None = None
        if not isinstance(chosen, str):
            tries = self._tries(context, "cname_create", {"host_name": str(self.host_name).lower()})
            existing = self.hook.find_cnames(self.host_name)
            if not existing and (wait := tries.still_landing(self.hook.config.timeout)) > 0:
                self.log.warning(
                    "An earlier try of this task sent the registration of %s and never learned its outcome "
                    "(%s); looking again in %.0fs, when Oktopost must have committed it if it ever will",
                    self.host_name,
                    tries.describe(),
                    wait,
                )
                from airflow_provider_oktopost._core import clock

                clock.sleep(wait)
                existing = self.hook.find_cnames(self.host_name)
            cname = self._choose(existing, tries) if existing else self._create(tries)
            chosen = cname.id
            self._progress["cname_id"] = chosen
        if cname is None:
            cname = self.hook.get_cname(chosen)
        context["ti"].xcom_push(key="cname", value=cname.to_dict())
        return cname.id

    def _create(self, tries: TryEvidence) -> Cname:
        """Register the name; when Oktopost refuses because another task registered it meanwhile, apply
        ``if_exists`` to that one (the refusal's wording is not relied on: the name is looked up)."""
        from airflow_provider_oktopost.exceptions import OktopostApiError

        try:
            with tries.watching(self.hook):
                cname = self.hook.create_cname(self.host_name)
        except OktopostApiError:
            existing = self.hook.find_cnames(self.host_name)
            if not existing:
                raise
            ids = ", ".join(item.id for item in existing)
            if self.if_exists != "reuse":
                raise AirflowFailException(
                    f"The host name {self.host_name} was registered by someone else while this task was "
                    f"registering it: CNAME {ids}. Pass if_exists='reuse' to use it"
                ) from None
            self.log.info(
                "CNAME %s for %s was registered concurrently by another task; reusing it", ids, self.host_name
            )
            return existing[0]
        tries.done(cname_id=cname.id)
        self.log.info("Registered CNAME %s for %s", cname.id, cname.name)
        return cname

    def _choose(self, existing: list[Cname], tries: TryEvidence) -> Cname:
        own = tries.own_creation(existing, "cname_id")
        if own is not None:
            found = next(item for item in existing if item.id == own)
            self.log.info(
                "CNAME %s for %s was registered by an earlier try of this task (%s); using it, not "
                "registering it again",
                found.id,
                found.name,
                tries.describe(),
            )
            return found
        found = existing[0]
        if self.if_exists == "reuse":
            self.log.info(
                "CNAME %s for %s already exists; reusing it (if_exists='reuse')", found.id, found.name
            )
            return found
        raise AirflowFailException(
            f"The host name {self.host_name} is already registered as CNAME "
            f"{', '.join(item.id for item in existing)}. Pass if_exists='reuse' to use it"
        )


class OktopostDeleteCnameOperator(OktopostBaseOperator):
    """Delete a CNAME from Oktopost, unless integrations still use it; returns its Id.

    Deleting a CNAME breaks the integrations that use it, so by default the task fails (without retry)
    naming those integrations; ``force=True`` deletes anyway and logs which ones it breaks. **The DNS
    record stays**: Oktopost only forgets the name; remove the record at your DNS registrar yourself.

    A CNAME that is already gone counts as deleted when an earlier try of this task sent its delete (the
    provider's one rule for tries, ``docs/operators.md``, "Retries, Clear and killed tasks"), or with
    ``missing_ok=True``; otherwise the task fails.

    :param cname_id: The CNAME to delete (``0CN...``; templated, ``create_cname.output`` works).
    :param force: Delete even when integrations use the CNAME (they stop working).
    :param missing_ok: Treat a CNAME that does not exist (404) as deleted (decided on every try).
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("cname_id",)
    _checks: ClassVar[Mapping[str, Check]] = {"cname_id": require_id}

    def __init__(
        self, *, cname_id: str, force: bool = False, missing_ok: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.cname_id = cname_id
        self.force = _flag("force", force)
        self.missing_ok = _flag("missing_ok", missing_ok)
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        from airflow_provider_oktopost.exceptions import OktopostNotFoundError

        tries = self._tries(context, "cname_delete", {"cname_id": str(self.cname_id)}, earlier_stands=True)
        try:
            cname = self.hook.get_cname(self.cname_id)
            users = self.hook.cname_users(self.cname_id)
            if users and not self.force:
                raise AirflowFailException(
                    f"CNAME {self.cname_id} ({cname.name}) is used by {len(users)} integration(s): "
                    f"{_describe(users)}. Deleting it would break them: delete or move them first, or pass "
                    "force=True"
                )
            if users:
                self.log.warning(
                    "force=True: deleting CNAME %s (%s) breaks integration(s) %s",
                    self.cname_id,
                    cname.name,
                    _describe(users),
                )
            with tries.watching(self.hook):
                self.hook.delete_cname(self.cname_id)
        except OktopostNotFoundError:
            # Only an earlier try's evidence that its delete may have left (or did) makes a 404 success.
            if not (self.missing_ok or tries.may_have_run):
                raise
            reason = (
                f"an earlier try of this task sent its delete ({tries.describe()})"
                if tries.may_have_run
                else "missing_ok=True"
            )
            self.log.info(
                "CNAME %s does not exist (already deleted); %s, so this is a success", self.cname_id, reason
            )
            return self.cname_id
        tries.done()
        self.log.info(
            "Deleted CNAME %s (%s) from Oktopost. The DNS record for %s stays at your registrar: remove it "
            "there if it is no longer needed",
            self.cname_id,
            cname.name,
            cname.name,
        )
        return self.cname_id


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _describe(users: list[Any]) -> str:
    return ", ".join(f"{item.id} ({item.type})" for item in users)


__all__ = ["OktopostCreateCnameOperator", "OktopostDeleteCnameOperator"]
