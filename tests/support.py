"""Helpers shared by test modules (importable because pyproject puts tests/ on the path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


class SleepRecorder:
    """Replaces the provider's sleeps: records what would have been slept and advances a fake clock."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.offset = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


EXAMPLES = Path(__file__).resolve().parents[1] / "example_dags"


def load_example(name: str) -> Any:
    """Import an example DAG file fresh and return its ``dag``."""
    spec = importlib.util.spec_from_file_location(f"oktopost_examples.{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.dag
