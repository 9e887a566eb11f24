"""What an operation and its driver say to each other: the one vocabulary of the sans-IO generators.

An operation (:mod:`.operations` and the modules built on it) is a generator. It yields an instruction
(an :class:`~.wire.ApiRequest` to send, a :class:`~.wire.Sleep`, or a :class:`StoreStep` to run against the
account's budget store) and is sent back the answer (:data:`Reply`). :mod:`.driver` runs the instructions over
a concrete transport; nothing here does I/O.

Kept apart from the operations so that the modules the operations use (the exactly-once rule, the budget)
can name these types without importing the operations back.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

from airflow_provider_oktopost._core.budget.rules import Grant
from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, Sleep, TransportFailure

#: What a budget store step answers: a :class:`.Grant`, a listing (or a listing's mark), or nothing.
StoreAnswer = Grant | dict[str, str] | None


@dataclass(frozen=True)
class StoreStep:
    """An instruction to the driver: run this budget-store action and send its answer back.

    ``blocking`` actions (disk or network) run in a worker thread on the event loop; the in-memory store
    answers inline. Made by :meth:`.AccountBudget.step`.
    """

    run: Callable[[], StoreAnswer]
    blocking: bool


#: The result of an operation.
T = TypeVar("T")
#: What a driver sends back into an operation: the response, the failure, or the store step's answer.
Reply = ApiResponse | TransportFailure | StoreAnswer
#: An operation: a sans-IO generator that yields requests, sleeps and store steps and returns its result.
Op = Generator[ApiRequest | Sleep | StoreStep, Reply, T]

__all__ = ["Op", "Reply", "StoreAnswer", "StoreStep"]
