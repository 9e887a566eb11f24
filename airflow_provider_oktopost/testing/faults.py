"""Value types shared by the sandbox state, its HTTP app and its remote client.

They are plain dataclasses with ``to_dict``/``from_dict`` so that the same description of a fault or
of a logged request can travel over the ``/_sandbox`` control routes and be rebuilt, unchanged, on
the other side (a test driving a sandbox that runs in another process).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

#: What a fault does to the request it hits.
FaultKind = Literal["status", "delay", "drop", "lost_response", "malformed", "empty", "redirect"]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))

#: Kinds that answer instead of the API: the request is never processed, so no state changes.
SYNTHETIC_KINDS: frozenset[str] = frozenset({"status", "malformed", "empty", "redirect"})

#: What chaos mode may substitute for a real response (see :func:`chaos_fault`).
CHAOS_KINDS: tuple[str, ...] = (
    "status500",
    "status502",
    "status503",
    "status504",
    "drop",
    "lost_response",
    "status429_short",
)

# A 502 normally comes from a proxy in front of the API, not from the API: it is HTML, not JSON.
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


def _from_mapping(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Reject unknown keys, so a typo in a remote fault description fails loudly instead of silently."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    return dict(data)


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour of the network or of the API, consumed by matching ``/v2`` requests.

    Faults are checked before authentication and rate limiting, because they model a flaky network or
    proxy in front of the API. ``status``, ``malformed``, ``empty``, ``redirect`` and ``drop`` answer
    without processing the request; ``delay`` processes it after sleeping; ``lost_response`` processes
    it (the change is committed) and then closes the connection without sending the answer.

    ``path`` is a regular expression that must ``fullmatch`` the request path (``r"/v2/integration/.*"``);
    ``None`` matches any path, as ``method=None`` matches any method. ``times`` is how many matching
    requests the fault affects; ``None`` means every one of them until the sandbox is reset.
    """

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    status: int | None = None
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    location: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 (or None for unlimited)")
        if self.kind == "status" and (self.status is None or not 100 <= self.status <= 599):
            raise ValueError("a 'status' fault needs an HTTP status between 100 and 599")
        if self.kind == "delay" and self.delay_seconds <= 0:
            raise ValueError("a 'delay' fault needs delay_seconds > 0")
        if self.kind == "redirect" and not self.location:
            raise ValueError("a 'redirect' fault needs a location")
        if self.path is not None:
            try:
                re.compile(self.path)
            except re.error as exc:
                raise ValueError(f"invalid path regex {self.path!r}: {exc}") from exc
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "headers", dict(self.headers))

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (method compared case-insensitively)."""
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or re.fullmatch(self.path, path) is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as accepted by ``POST /_sandbox/faults``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Rebuild a fault from :meth:`to_dict` output (or a hand-written JSON object)."""
        return cls(**_from_mapping(cls, data))


def chaos_fault(kind: str) -> Fault:
    """The transient fault a chaos draw of ``kind`` stands for.

    ``status429_short`` is a 429 with ``Retry-After: 1`` produced *instead of* the rate limiter, so it
    does not start a block: it tests that a client can live with a short, self-announced throttle.
    """
    if kind == "drop":
        return Fault(kind="drop")
    if kind == "lost_response":
        return Fault(kind="lost_response")
    if kind == "status429_short":
        return Fault(kind="status", status=429, body="", headers={"Retry-After": "1"})
    match = re.fullmatch(r"status(5\d\d)", kind)
    if match is None or kind not in CHAOS_KINDS:
        raise ValueError(f"unknown chaos kind {kind!r}; expected some of {list(CHAOS_KINDS)}")
    status = int(match.group(1))
    return Fault(kind="status", status=status, body=BAD_GATEWAY_HTML if status == 502 else None)


@dataclass(frozen=True)
class LoggedRequest:
    """One request the sandbox received under ``/v2``.

    The Authorization header is deliberately not kept: the log is meant to be printed in test failures
    and must never leak the API key. ``status`` is ``None`` when the client got no response at all
    (``drop``, ``lost_response``); ``fault`` names the fault kind that shaped the answer, and ``chaos``
    tells whether it came from chaos mode rather than from an injected :class:`Fault`. ``time`` is the
    sandbox clock (epoch seconds) when the request arrived.
    """

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    status: int | None
    fault: str | None
    time: float
    chaos: bool = False
    #: The Basic-auth username (account id) the request came with, if any (never the key).
    account: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as served by ``GET /_sandbox/requests``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoggedRequest:
        """Rebuild an entry from :meth:`to_dict` output."""
        return cls(**_from_mapping(cls, data))


def count_requests(entries: Iterable[LoggedRequest], method: str | None, path_regex: str | None) -> int:
    """Shared by the state and the remote client so that both count the same way."""
    return sum(
        1
        for e in entries
        if (method is None or e.method == method.upper())
        and (path_regex is None or re.fullmatch(path_regex, e.path) is not None)
    )
