"""Where the evidence that outlives a task try is kept: what an earlier try of the task instance sent.

The rule that decides what to write and what a later try may conclude is in :mod:`.evidence`; this module
only stores it. On Airflow 3.3 and later it is the task instance's own ``task_state_store``
(:class:`StateStoreRecord`); on 3.0 to 3.2, an Airflow Variable (:class:`TryRecord`), the only store there
that survives a try. :func:`record_for` picks one.

Why this exists: a create or delete whose answer was lost leaves the next try unsure whether its own
earlier try took effect. The next try must act on that only with evidence, and the evidence must survive
everything that separates two tries: a new process, another machine, a retry, a user's Clear. XCom does not
(Airflow 3 clears a task instance's XComs when a new try starts), nor does anything in the worker's memory or
disk. The task state store (3.3+) and an Airflow Variable do: both are written through the Task SDK (the
execution API, so they work from any worker and under ``dag.test()``) and read back by every later try of
the same task instance.

**On 3.0 to 3.2 (Variables).** A record is keyed by the task instance (``dag_id``, ``run_id``, ``task_id``,
``map_index``), the action and its target (API host, account, and the integration type and CNAME, or the
integration Id), hashed to a Variable key starting with :data:`RECORD_PREFIX`. Its value is JSON that names
all of these in clear text (no credentials), so a record seen under Admin > Variables explains itself. It is
written only when a request may have left, and deleted when the task instance succeeds; a task that fails for
good leaves its record: delete Variables starting with :data:`RECORD_PREFIX` for runs you no longer clear or
retry. Every read and write of a Variable from a task also asks each configured secrets backend first.

**On 3.3 and later (task state store).** The same value is kept under a key of the task instance's
``task_state_store`` (keyed by DAG run, task and map index by Airflow itself); no secrets backend is asked,
and ``airflow db clean`` drops it after ``[state_store] default_retention_days``.

When a record cannot be written or read (no Task SDK supervisor, e.g. ``operator.execute()`` called
directly in a unit test, or the API refusing), the operators act as if there were none: the safe side,
since without evidence they never adopt or forgive anything (a later try then fails loudly, naming the Id,
instead of acting on an integration that may not be its own).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("airflow_provider_oktopost.tries")

#: Every try record's Variable key starts with this.
RECORD_PREFIX = "oktopost_try_record_"


class TryRecord:
    """One action's record for one task instance, stored in an Airflow Variable (see the module docs).

    :param ti: The running task instance (``context["ti"]``).
    :param action: What the record is about, e.g. ``connect`` or ``delete``.
    :param target: What identifies the object acted on (host, account, type, CNAME or Id); plain strings.
    """

    def __init__(self, ti: Any, action: str, target: Mapping[str, str]) -> None:
        self.identity: dict[str, Any] = {
            "dag_id": getattr(ti, "dag_id", None),
            "run_id": getattr(ti, "run_id", None),
            "task_id": getattr(ti, "task_id", None),
            "map_index": getattr(ti, "map_index", -1),
            "action": action,
            **{name: str(value) for name, value in sorted(target.items())},
        }
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()[:40]
        self.key = f"{RECORD_PREFIX}{action}_{digest}"
        #: False when the task instance does not say who it is: nothing can be recorded then.
        self.usable = all(isinstance(self.identity[name], str) for name in ("dag_id", "run_id", "task_id"))

    def read(self) -> dict[str, Any] | None:
        """The record an earlier try (or this one) wrote, or ``None`` (none, or it could not be read)."""
        if not self.usable:
            return None
        try:
            raw = _variables().get(self.key, None)
        except Exception as error:
            log.warning(
                "Could not read the try record %s (%s); acting as if there were none", self.key, error
            )
            return None
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return None
        if not isinstance(data, dict) or any(data.get(k) != v for k, v in self.identity.items()):
            return None  # not ours (a hash collision, or somebody edited it): no evidence
        return data

    def delete(self) -> None:
        """Drop the record (the task instance succeeded); a failure is logged, never raised."""
        if not self.usable:
            return
        try:
            _variables().delete(self.key)
        except Exception as error:
            log.warning("Could not delete the try record %s (%s); delete it by hand", self.key, error)

    def write(self, **facts: Any) -> bool:
        """Store ``facts`` (plain JSON values) with the identity; False, logged, if it could not be stored."""
        if not self.usable:
            log.warning(
                "This task instance does not say its dag_id/run_id/task_id: a later try will have no "
                "evidence of what this one sends"
            )
            return False
        value = json.dumps({**facts, **self.identity}, sort_keys=True)
        try:
            _variables().set(self.key, value, description="airflow-provider-oktopost: what a task try sent")
        except Exception as error:
            log.warning(
                "Could not write the try record %s (%s): a later try will have no evidence of what this "
                "one sends",
                self.key,
                error,
            )
            return False
        return True


class StateStoreRecord(TryRecord):
    """The same record, kept in the task instance's ``task_state_store`` (Airflow 3.3 and later)."""

    def __init__(self, store: Any, ti: Any, action: str, target: Mapping[str, str]) -> None:
        super().__init__(ti, action, target)
        self.store = store
        self.key = self.key.removeprefix(RECORD_PREFIX)
        self.usable = True  # the store is this task instance's own

    def read(self) -> dict[str, Any] | None:
        try:
            data = self.store.get(self.key)
        except Exception as error:
            log.warning(
                "Could not read %s from the task state store (%s); acting as if it were not there",
                self.key,
                error,
            )
            return None
        if not isinstance(data, dict) or any(data.get(k) != v for k, v in self.identity.items()):
            return None
        return data

    def write(self, **facts: Any) -> bool:
        try:
            self.store.set(self.key, {**facts, **self.identity})
        except Exception as error:
            log.warning(
                "Could not write %s to the task state store (%s): a later try will have no evidence of "
                "what this one sends",
                self.key,
                error,
            )
            return False
        return True

    def delete(self) -> None:
        try:
            self.store.delete(self.key)
        except Exception as error:
            log.warning("Could not delete %s from the task state store (%s)", self.key, error)


def record_for(context: Mapping[str, Any], action: str, target: Mapping[str, str]) -> TryRecord:
    """The task state store's record on Airflow 3.3+, a Variable's before (see the module docs)."""
    store = context.get("task_state_store")
    if store is not None:
        return StateStoreRecord(store, context.get("ti"), action, target)
    return TryRecord(context.get("ti"), action, target)


def _variables() -> Any:
    """The Task SDK's ``Variable``, or, without a Task SDK supervisor, the metadata-DB model.

    The second case is Airflow 3.0's ``dag.test()``, which runs tasks in the test's own process without the
    supervisor the SDK talks through (there the DB is the test's own). A real worker always has one.
    """
    try:
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS  # noqa: F401
    except ImportError:
        from airflow.models.variable import Variable as VariableModel

        return VariableModel
    from airflow.providers.common.compat.sdk import Variable

    return Variable


__all__ = ["RECORD_PREFIX", "StateStoreRecord", "TryRecord", "record_for"]
