"""The one rule for "did an earlier try of this task instance do this write, and what came of it?".

Every operator that writes (connect, delete, CNAME create and delete, integration actions) asks it the same
way. Airflow runs a task instance again after a retry, a Clear, or a worker that died; the new try is a new
process that knows nothing of the last one, so whatever it concludes about an earlier try must come from
evidence that try left (kept by :mod:`.try_records`: the task state store on Airflow 3.3+, a Variable
before). The rule (``docs/operators.md``, "Retries, Clear and killed tasks"):

- **What is recorded.** A try records ``sent`` ("may have been sent") only when a write may really leave:
  after the call budget granted it, right before it is handed to the transport (the core tells the
  :class:`TryEvidence` through :class:`~airflow_provider_oktopost._core.operations.Witness`). A budget wait, a
  refusal before sending, or a connection refused records nothing. Once the outcome is known it is recorded
  as what it is: ``done`` (with the result) on success; ``refused`` when every write this try sent got a
  definite "no" (a 4xx, ``Result: false``, a 429); an answer that may hide a success (a timeout, a dropped
  connection, a 5xx) and a try that died waiting for one leave ``sent``.
- **What a later try concludes.** Only what the evidence proves: ``done`` names what was made (or that the
  action ran); ``sent`` says the write may have taken effect, and after when. Anything else (no record,
  ``refused``) proves nothing, and the task's own parameters (``if_exists``, ``missing_ok``,
  ``safe_to_resend``) decide, on every try.
- **When it is dropped.** On Airflow 3.0 to 3.2 the Variable is deleted once the task instance succeeds; on
  3.3 the task state store keeps it for its retention, so a Clear after success still knows what the task
  did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.operators._try_records import TryRecord, record_for

if TYPE_CHECKING:
    from datetime import datetime

    from airflow_provider_oktopost._core.wire import ApiRequest
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

log = logging.getLogger("airflow_provider_oktopost.tries")

#: A write may have left; its outcome is not known.
SENT = "sent"
#: Oktopost answered the write with success.
DONE = "done"
#: Every write the try sent was refused with a definite answer: it did nothing.
REFUSED = "refused"
#: Seconds by which Oktopost's clock may be behind the worker's when a ``Created`` time is compared with
#: the moment a try recorded that its create may have left.
CLOCK_SKEW_MARGIN = 300.0


class _Made(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def created(self) -> datetime | None: ...


#: A record a create makes (an integration, a CNAME).
MadeT = TypeVar("MadeT", bound=_Made)


class TryEvidence:
    """What earlier tries of this task instance left about one write, and this try's record of it.

    :param context: The task's context (its ``ti`` and, on Airflow 3.3+, ``task_state_store``).
    :param action: What the write is, e.g. ``connect``; part of the record's key.
    :param target: What it acts on (host, account, type, CNAME, Id...); part of the record's key.
    :param required: Refuse to send when ``sent`` cannot be recorded (for writes whose repetition does harm
        that nothing can detect afterwards, such as a CRM action).
    :param earlier_stands: A definite refusal in this try leaves an earlier try's ``sent`` or ``done`` as it
        was (a delete's 404 does not disprove an earlier delete), instead of recording ``refused``.
    """

    def __init__(
        self,
        context: Mapping[str, Any],
        action: str,
        target: Mapping[str, str],
        *,
        required: bool = False,
        earlier_stands: bool = False,
    ) -> None:
        self.record: TryRecord = record_for(context, action, target)
        self.try_number = int(getattr(context.get("ti"), "try_number", None) or 1)
        self.required = required
        self.earlier_stands = earlier_stands
        #: What earlier tries (or this try before a rate-limit deferral) recorded; ``None`` when nothing.
        self.earlier: dict[str, Any] | None = self.record.read()
        self._sent = False
        self._pending = False
        self._unknown = False
        self._wrote = False

    # ---- what earlier tries proved -------------------------------------------------------------------

    @property
    def state(self) -> str | None:
        """``sent``, ``done``, ``refused`` or ``None``: what the earlier evidence says."""
        state = (self.earlier or {}).get("state")
        return state if isinstance(state, str) else None

    @property
    def may_have_run(self) -> bool:
        """Whether an earlier try's write may have taken effect (``sent``) or did (``done``)."""
        return self.state in (SENT, DONE)

    def own_creation(self, existing: Sequence[MadeT], id_field: str) -> str | None:
        """Which of ``existing`` an earlier try created, by the evidence it left; ``None`` if none is proved.

        ``done`` names the Id under ``id_field`` (and nothing else qualifies: if that one is gone, what
        exists now is somebody else's). ``sent`` proves this task sent a create after a look that found
        none; a single record found now was made after that look, by that create (or, the one gap, by
        another client racing this task for the same thing), unless Oktopost says it was created before the
        create left (its ``Created`` is compared with :data:`CLOCK_SKEW_MARGIN` for clock skew).
        """
        recorded = (self.earlier or {}).get(id_field)
        if self.state == DONE and isinstance(recorded, str):
            return recorded if any(item.id == recorded for item in existing) else None
        if self.state != SENT or len(existing) != 1:
            return None
        sent_at = (self.earlier or {}).get("sent_at")
        created = existing[0].created
        if (
            created is not None
            and isinstance(sent_at, int | float)
            and created.timestamp() < sent_at - CLOCK_SKEW_MARGIN
        ):
            return None
        return existing[0].id

    def still_landing(self, timeout: float) -> float:
        """Seconds an earlier try's create, which may have left (``sent``), could still take to commit.

        A server may commit a request up to one request ``timeout`` after it arrived (the rule of
        :mod:`~airflow_provider_oktopost._core.exactly_once`); a try that finds nothing before then looks
        again after it, instead of sending a second create. ``0`` when there is nothing to wait for.
        """
        sent_at = (self.earlier or {}).get("sent_at")
        if self.state != SENT or not isinstance(sent_at, int | float):
            return 0.0
        return max(0.0, sent_at + timeout - clock.wall())

    def describe(self) -> str:
        """Which try left the evidence and where it is kept, for log lines."""
        return f"try {(self.earlier or {}).get('try_number', '?')}, recorded as {self.record.key}"

    # ---- this try's record (Witness) -----------------------------------------------------------------

    def sending(self, request: ApiRequest) -> None:
        """Record ``sent`` before the first write of this try leaves (reads are not recorded)."""
        if request.method == "GET":
            return
        self._pending = True
        if self._sent:
            return
        self._sent = True
        stored = self._write(state=SENT, sent_at=clock.wall(), try_number=self.try_number)
        if not stored and self.required and self.record.usable:
            self._sent = self._pending = False
            raise OktopostError(
                f"{request.describe()} was not sent: a later try could not tell whether this one ran it, "
                "because the record of sending it could not be stored (see the log)"
            )

    def answered(self, request: ApiRequest, *, definite: bool) -> None:
        """Note whether the answer to a write was definite (a timeout or a 5xx may hide a success)."""
        if request.method == "GET":
            return
        self._pending = False
        self._unknown = self._unknown or not definite

    @contextmanager
    def watching(self, hook: OktopostHook) -> Iterator[None]:
        """The hook's calls inside are witnessed; a failure is recorded as what it is (module docs)."""
        with hook.witnessed_by(self):
            try:
                yield
            except BaseException:
                self._settle_failure()
                raise

    def done(self, **facts: Any) -> None:
        """The write succeeded: record ``done`` with ``facts`` (plain JSON values, no secrets)."""
        self._write(state=DONE, sent_at=clock.wall(), try_number=self.try_number, **facts)

    def finish(self) -> None:
        """The task instance succeeded: a Variable is deleted (3.0-3.2); the task state store keeps it."""
        if type(self.record) is TryRecord and (self._wrote or self.earlier is not None):
            self.record.delete()

    def _settle_failure(self) -> None:
        if not self._sent or self._pending or self._unknown:
            return  # nothing left this try, or what left may have taken effect: ``sent`` stays
        if self.earlier_stands and self.may_have_run and self.earlier is not None:
            self._write(**self.earlier)
        else:
            self._write(state=REFUSED, try_number=self.try_number)

    def _write(self, **facts: Any) -> bool:
        facts = {key: value for key, value in facts.items() if key not in self.record.identity}
        stored = self.record.write(**facts)
        self._wrote = self._wrote or stored
        return stored


__all__ = ["CLOCK_SKEW_MARGIN", "DONE", "REFUSED", "SENT", "TryEvidence"]
