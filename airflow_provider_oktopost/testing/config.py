"""Behaviour settings of a sandbox, kept in one immutable value so that a reset can restore them whole."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Unset(enum.Enum):
    """Type of :data:`UNSET`."""

    UNSET = enum.auto()


#: Sentinel for "leave this setting alone", where ``None`` already has a meaning.
UNSET = Unset.UNSET


@dataclass(frozen=True)
class SandboxConfig:
    """Behaviour settings; they survive :meth:`.SandboxState.reset` unless ``restore_config=True``."""

    validation_delay: float = 0.0
    rate_limit_per_minute: int | None = 60
    block_seconds: float = 900.0
    forbidden_keys: frozenset[str] = frozenset()
    #: The span the limiter counts ``rate_limit_per_minute`` calls over: Oktopost's minute. Shorter in
    #: benchmarks and tests that run "minutes" faster (stated wherever they report times).
    rate_window_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.validation_delay < 0 or self.block_seconds < 0:
            raise ValueError("validation_delay and block_seconds must be >= 0")
        if self.rate_window_seconds <= 0:
            raise ValueError("rate_window_seconds must be > 0")
        if self.rate_limit_per_minute is not None and self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be >= 1, or None to disable the limiter")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as served by ``/_sandbox/config``."""
        return {
            "validation_delay": self.validation_delay,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "block_seconds": self.block_seconds,
            "forbidden_keys": sorted(self.forbidden_keys),
            "rate_window_seconds": self.rate_window_seconds,
        }
