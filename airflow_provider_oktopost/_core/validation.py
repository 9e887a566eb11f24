"""Argument checks shared by the operators, the sensor and the wire builders.

Operators are built on every DAG parse, so their arguments are checked there, without any network call, as
soon as a value is known: a literal ``integration_type="c d"`` fails the DAG import with a ``ValueError``
naming the argument. A *templated* value (a Jinja string, an ``XComArg`` such as ``connect.output``, a
mapped argument...) is only known after rendering, so it is checked at the start of ``execute``, before the
first request. The value checks (``require_id``, ``encode_settings``...) are the ones the wire builders
(:mod:`.wire`) run before sending, so an operator accepts exactly what the API calls accept.

This module is on the DAG-parse path: it imports only the standard library (no dataclasses of the wire, no
hook, no client), so that importing an operator stays cheap (``bench/parse_cost.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[str, Any], Any]
_PLAIN_SCALARS = (str, bytes, bool, int, float)


# ---- value checks (the wire builders use them too) ---------------------------------------------------

STATES = ("active", "disabled")
STATUSES = ("valid", "invalid")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TYPE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SETTING_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_RESERVED_FORM_KEYS = frozenset({"type", "cnameId", "state"})


def require_id(name: str, value: object) -> str:
    """An Oktopost ID: non-empty letters, digits, ``-`` and ``_`` only (so it cannot alter the URL path)."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise ValueError(
            f"{name} must be a non-empty Oktopost ID of letters, digits, '-' and '_' "
            f"(at most 128 characters), got {_shown(value)}"
        )
    return value


def require_type(name: str, value: object) -> str:
    """An integration type such as ``cd`` or ``facebook``; unknown types are allowed, odd characters not."""
    if not isinstance(value, str) or not _TYPE_RE.fullmatch(value):
        raise ValueError(
            f"{name} must be an integration type such as 'cd', 'ga', 'pardot', 'netresults', 'mautic' or "
            f"'facebook' (letters, digits, '.', '_', '-'), got {_shown(value)}"
        )
    return value


def require_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ``ValueError`` naming the parameter."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {_shown(value)}")
    assert isinstance(value, str)
    return value


def encode_settings(settings: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Form fields for type-specific settings: dicts and lists as JSON strings, booleans as 0/1."""
    if settings is None:
        return ()
    if not isinstance(settings, Mapping):
        raise ValueError(f"settings must be a mapping of setting name to value, got {_shown(settings)}")
    fields: list[tuple[str, str]] = []
    for key, value in settings.items():
        if not isinstance(key, str) or not _SETTING_KEY_RE.fullmatch(key):
            raise ValueError(f"settings key {_shown(key)} must be an identifier such as 'trackingId'")
        if key in _RESERVED_FORM_KEYS:
            raise ValueError(f"settings key {key!r} is reserved: pass it as its own argument")
        fields.append((key, _encode_value(f"settings[{key!r}]", value)))
    return tuple(fields)


def _encode_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be JSON-serialisable: {exc}") from None
    raise ValueError(f"{name} must be a string, number, boolean, list or dict, got {type(value).__name__}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ACTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}(?:\.[A-Za-z][A-Za-z0-9_]{0,63}){1,3}$")


def require_host_name(name: str, value: object) -> str:
    """A host name for a CNAME record, such as ``links.example.com``; returned lower-cased.

    A real DNS name: at least two dot-separated labels of letters, digits and inner hyphens (1 to 63
    characters each, 253 in all), a top-level label that is not all digits (so no IP address), and nothing
    around it: no scheme (``https://``), path, query, port or user. One trailing dot (the DNS root) is
    dropped. International names must be given in their ASCII (``xn--``) form.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a host name such as 'links.example.com', got {_shown(value)}")
    problem = _host_problem(value)
    if problem:
        raise ValueError(
            f"{name} must be a bare host name such as 'links.example.com' ({problem}), got {_shown(value)}"
        )
    return value.lower().removesuffix(".")


def _host_problem(value: str) -> str | None:
    if "://" in value:
        return "no scheme such as https://"
    if any(ch in value for ch in "/?#"):
        return "no path or query"
    if "@" in value:
        return "no user name"
    if ":" in value:
        return "no port"
    if not value.isascii():
        return "international names in their xn-- form"
    host = value.lower().removesuffix(".")
    labels = host.split(".")
    if len(host) > 253:
        return "at most 253 characters"
    if len(labels) < 2:
        return "at least two labels, such as example.com"
    bad = next((label for label in labels if not _LABEL_RE.fullmatch(label)), None)
    if bad is not None:
        return (
            f"label {bad!r} must be 1 to 63 letters, digits or inner hyphens"
            if bad
            else "no empty label (two dots in a row, or a leading dot)"
        )
    if labels[-1].isdigit():
        return "not an IP address"
    return None


def require_action_name(name: str, value: object) -> str:
    """An integration action such as ``contact.getByEmail``: dot-separated identifiers (2 to 4 parts)."""
    if not isinstance(value, str) or not _ACTION_RE.fullmatch(value):
        raise ValueError(
            f"{name} must be an integration action such as 'contact.getByEmail', 'lead.getByEmail' or "
            f"'lead.search' (dot-separated names), got {_shown(value)}"
        )
    return value


def encode_payload(name: str, value: object) -> str:
    """An action payload as the API wants it: a JSON object in a string (a dict, or a string holding one)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be a dict or a string holding a JSON object") from None
    else:
        parsed = value
    if not isinstance(parsed, Mapping):
        raise ValueError(f"{name} must be a JSON object (a dict), got {type(parsed).__name__}")
    return _encode_value(name, dict(parsed))


# ---- operator arguments ---------------------------------------------------------------------------------


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
    return optional(lambda name, value: require_choice(name, value, choices))


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
    encode_settings(value)  # its errors already name "settings" and the offending key
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


#: What ``hook_params`` may set, on every operator and the sensor (worker hook and triggerer client alike).
HOOK_PARAMS = ("timeout", "max_retries")


def check_hook_params(hook_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check an operator's or the sensor's ``hook_params`` at parse time; returns them as a plain dict.

    Only ``timeout`` (seconds per request, > 0) and ``max_retries`` (whole number >= 0) are accepted: they
    must reach the client in the triggerer as well, so they must be plain JSON values.
    """
    if hook_params is None:
        return {}
    if not isinstance(hook_params, Mapping):
        raise ValueError(f"hook_params must be a dict, got {type(hook_params).__name__}")
    unknown = sorted(set(hook_params) - set(HOOK_PARAMS))
    if unknown:
        raise ValueError(f"hook_params: unknown key(s) {unknown}; accepted: {list(HOOK_PARAMS)}")
    timeout = hook_params.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        raise ValueError(f"hook_params['timeout'] must be a positive number of seconds, got {timeout!r}")
    retries = hook_params.get("max_retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        raise ValueError(f"hook_params['max_retries'] must be a whole number >= 0, got {retries!r}")
    return {key: value for key, value in hook_params.items() if value is not None}


__all__ = [
    "HOOK_PARAMS",
    "check_hook_params",
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
