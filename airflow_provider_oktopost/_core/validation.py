"""Argument checks shared by the operators and the sensor.

Operators are built on every DAG parse, so their arguments are checked there, without any network call, as
soon as a value is known: a literal ``integration_type="c d"`` fails the DAG import with a ``ValueError``
naming the argument. A *templated* value (a Jinja string, an ``XComArg`` such as ``connect.output``, a
mapped argument...) is only known after rendering, so it is checked at the start of ``execute``, before the
first request. The checks themselves are the wire builders' validators (:mod:`.core.wire`), so an operator
accepts exactly what the API calls accept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_oktopost._core import wire

Check = Callable[[str, Any], Any]
_PLAIN_SCALARS = (str, bytes, bool, int, float)


def is_templated(value: object) -> bool:
    """True when ``value`` is only known after Airflow renders the task.

    That is a string with Jinja markers (``{{`` or ``{%``), a container holding one, or anything that is not
    a plain value: an ``XComArg`` (``task.output``), a mapped argument, a ``LiteralValue``... Such values are
    recognised by type rather than by class, so every current and future lazy Airflow value counts.
    """
    if value is None or isinstance(value, _PLAIN_SCALARS):
        return isinstance(value, str) and ("{{" in value or "{%" in value)
    if isinstance(value, Mapping):
        return any(is_templated(k) or is_templated(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(is_templated(item) for item in value)
    return True


def optional(check: Check) -> Check:
    """``check``, but ``None`` is allowed (the argument is not used)."""

    def run(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return run


def choice(*choices: str) -> Check:
    """One of ``choices`` (``None`` allowed)."""
    return optional(lambda name, value: wire.require_choice(name, value, choices))


def check_settings(name: str, value: Any) -> dict[str, Any] | None:
    """Type-specific settings: a mapping, or a JSON object in a string (what a template renders to)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(
                f"{name} must be a dict, or a string holding a JSON object (render a template with "
                "'| tojson', or set render_template_as_native_obj=True on the DAG)"
            ) from None
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a JSON object, got JSON {type(value).__name__}")
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of setting name to value, got {type(value).__name__}")
    wire.encode_settings(value)  # its errors already name "settings" and the offending key
    return dict(value)


def validate_arguments(owner: object, checks: Mapping[str, Check], *, rendered: bool) -> None:
    """Run ``checks`` (attribute name -> check) on ``owner``'s attributes.

    Before rendering (``rendered=False``, in ``__init__``) templated values are skipped; after rendering
    every value is checked and replaced by what its check returns (settings given as a JSON string become a
    dict). Values are only replaced after rendering, so the DAG file's own objects are never rewritten.
    """
    for attribute, check in checks.items():
        value = getattr(owner, attribute)
        if not rendered and is_templated(value):
            continue
        result = check(attribute, value)
        if rendered and result is not None:
            setattr(owner, attribute, result)


__all__ = [
    "check_settings",
    "choice",
    "is_templated",
    "optional",
    "validate_arguments",
]


def seconds_or_none(name: str, value: object) -> float | None:
    """A duration argument (seconds or a ``timedelta``) as positive seconds; ``None`` stays ``None``."""
    from datetime import timedelta

    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(f"{name} must be a positive number of seconds, a timedelta or None, got {value!r}")
    return float(seconds)
