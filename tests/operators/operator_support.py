"""Helpers shared by the operator test modules (a module of its own: test modules cannot import ``conftest``
reliably, since ``tests/conftest.py`` has the same module name)."""

from __future__ import annotations

from typing import Any

CNAME = "0CNsandbox00001"
LIST = r"/v2/integration"
ONE = r"/v2/integration/[^/]+"


class FakeTI:
    """What the operators use of the task instance: the try number and XCom pushes."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def ctx(try_number: int = 1) -> Any:
    return {"ti": FakeTI(try_number)}
