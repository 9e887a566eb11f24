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

from airflow_provider_oktopost.core import wire
from airflow_provider_oktopost.exceptions import OktopostApiError, OktopostNotFoundError
from airflow_provider_oktopost.operators._base import OktopostBaseOperator
from airflow_provider_oktopost.validation import Check

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_oktopost.models import Cname

IF_EXISTS_CHOICES = ("fail", "reuse")


class OktopostCreateCnameOperator(OktopostBaseOperator):
    """Register a host name as a CNAME in Oktopost and return its Id (``0CN...``).

    The return value (XCom ``return_value``) is the Id, so ``OktopostConnectIntegrationOperator(cname_id=
    create_cname.output, ...)`` chains; the whole record is pushed under the XCom key ``cname``
    (:meth:`.Cname.to_dict`). The host name must already be a DNS CNAME pointing to ``okt.to`` at your
    registrar: Oktopost registers the name, it does not create DNS records.

    **Never a duplicate.** The operator first looks for a CNAME with this host name (case and a trailing
    dot do not matter). If one exists:

    - on the task's first try, ``if_exists="reuse"`` returns it and ``if_exists="fail"`` fails the task
      with ``AirflowFailException`` naming its Id (no retry: retrying cannot help);
    - on a retry (``try_number > 1``), or after a rate-limit wait in the same try once this try saw none,
      it is taken to be the one an earlier attempt created (whose response was lost) and is reused,
      whatever ``if_exists`` says. A first try that saw one would have failed without retry, so a retry
      only happens when none existed before.

    The hook itself never creates twice when a create response is lost (it looks before re-sending). When
    two tasks register the same name at once and Oktopost refuses the second, that task looks the name up
    and applies ``if_exists`` to the CNAME the other one registered.

    :param host_name: The host name, such as ``links.example.com`` (templated). A bare DNS name: no
        scheme, path or port; it is lower-cased.
    :param if_exists: ``fail`` (default) or ``reuse``: what to do on the first try when the host name is
        already registered.
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer (default: ``[operators]
        default_deferrable``).
    """

    template_fields = ("host_name",)
    _checks: ClassVar[Mapping[str, Check]] = {"host_name": wire.require_host_name}

    def __init__(self, *, host_name: str, if_exists: str = "fail", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host_name = host_name
        self.if_exists = wire.require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        chosen = self._progress.get("cname_id")  # known when resuming after a rate-limit wait
        cname: Cname | None = None
        if not isinstance(chosen, str):
            existing = self.hook.find_cnames(self.host_name)
            if existing:
                cname = self._choose(existing, int(context["ti"].try_number or 1))
            else:
                self._progress["checked_absent"] = True
                cname = self._create()
            chosen = cname.id
            self._progress["cname_id"] = chosen
        if cname is None:
            cname = self.hook.get_cname(chosen)
        context["ti"].xcom_push(key="cname", value=cname.to_dict())
        return cname.id

    def _create(self) -> Cname:
        """Register the name; when Oktopost refuses because another task registered it meanwhile, apply
        ``if_exists`` to that one (the refusal's wording is not relied on: the name is looked up)."""
        try:
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
        self.log.info("Registered CNAME %s for %s", cname.id, cname.name)
        return cname

    def _choose(self, existing: list[Cname], try_number: int) -> Cname:
        found = existing[0]
        if self._progress.get("checked_absent"):
            self.log.info(
                "CNAME %s for %s appeared after this try created it: using it", found.id, found.name
            )
        elif try_number > 1:
            self.log.info(
                "Try %d: CNAME %s for %s exists; an earlier try registered it (a first try that found it "
                "would have failed without retry), so it is reused, not registered again",
                try_number,
                found.id,
                found.name,
            )
        elif self.if_exists == "reuse":
            self.log.info(
                "CNAME %s for %s already exists; reusing it (if_exists='reuse')", found.id, found.name
            )
        else:
            raise AirflowFailException(
                f"The host name {self.host_name} is already registered as CNAME "
                f"{', '.join(item.id for item in existing)}. Pass if_exists='reuse' to use it"
            )
        return found


class OktopostDeleteCnameOperator(OktopostBaseOperator):
    """Delete a CNAME from Oktopost, unless integrations still use it; returns its Id.

    Deleting a CNAME breaks the integrations that use it, so by default the task fails (without retry)
    naming those integrations; ``force=True`` deletes anyway and logs which ones it breaks. **The DNS
    record stays**: Oktopost only forgets the name; remove the record at your DNS registrar yourself.

    On a retry (``try_number > 1``) a CNAME that is already gone counts as deleted: the earlier try may
    have deleted it and lost the answer.

    :param cname_id: The CNAME to delete (``0CN...``; templated, ``create_cname.output`` works).
    :param force: Delete even when integrations use the CNAME (they stop working).
    :param missing_ok: Treat a CNAME that does not exist (404) as deleted, also on the first try.
    :param oktopost_conn_id: The ``oktopost`` connection.
    :param deferrable: Wait out a rate-limit block in the triggerer.
    """

    template_fields = ("cname_id",)
    _checks: ClassVar[Mapping[str, Check]] = {"cname_id": wire.require_id}

    def __init__(
        self, *, cname_id: str, force: bool = False, missing_ok: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.cname_id = cname_id
        self.force = _flag("force", force)
        self.missing_ok = _flag("missing_ok", missing_ok)
        self._validate(rendered=False)

    def _work(self, context: Context) -> str:
        retry = int(context["ti"].try_number or 1) > 1
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
            self.hook.delete_cname(self.cname_id)
        except OktopostNotFoundError:
            if not (self.missing_ok or retry):
                raise
            reason = "missing_ok=True" if self.missing_ok else "a retry: an earlier try may have deleted it"
            self.log.info(
                "CNAME %s does not exist (already deleted); %s, so this is a success", self.cname_id, reason
            )
            return self.cname_id
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
