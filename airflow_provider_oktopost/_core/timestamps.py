"""Oktopost's timestamps: the lenient parser, and the date field that parses on first read."""

from __future__ import annotations

import re
from typing import overload

import pendulum
from pendulum import DateTime

_DATE_RE = re.compile(r"^\s*(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")


def parse_datetime(value: object) -> DateTime | None:
    """Parse an Oktopost timestamp as UTC; ``None`` for unset, empty or unparseable values.

    Accepts ``"YYYY-MM-DD HH:MM:SS"`` (padded or not, with ``T`` or a space), a bare date and epoch seconds.
    """
    if type(value) is str and len(value) == 19 and value[4] == "-" and value[10] == " " and value[13] == ":":
        # The shape the API sends for every timestamp: sliced, no regex and no other type checks. A listing
        # parses two per item, so this is most of the hook's own CPU per integration.
        try:
            year = int(value[0:4])
            if year > 0:
                return DateTime(
                    year,
                    int(value[5:7]),
                    int(value[8:10]),
                    int(value[11:13]),
                    int(value[14:16]),
                    int(value[17:19]),
                    tzinfo=pendulum.UTC,
                )
        except ValueError:
            pass  # not digits, or not a real date: the general path below decides
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return pendulum.from_timestamp(float(value), tz="UTC") if value > 0 else None
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    match = _DATE_RE.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if year == 0:
        return None
    try:
        # The class itself, not pendulum.datetime(): ten times cheaper, and a listing parses two per item.
        return DateTime(year, month, day, hour, minute, second, tzinfo=pendulum.UTC)
    except ValueError:
        return None


class Timestamp:
    """A date field that :meth:`.Integration.from_api` / :meth:`.Cname.from_api` parse on first read.

    A listing builds an object per record but most callers never look at its dates, and turning the API's
    text into a ``pendulum.DateTime`` was most of the hook's own CPU per integration. ``from_api`` leaves the
    text under ``_<name>_text``; the first read parses it (:func:`parse_datetime`, the same lenient rules)
    and keeps the result. A value given to the constructor is stored as it is. A data descriptor, so the
    frozen dataclass's ``__init__``, ``repr``, ``==`` and ``dataclasses.replace`` all go through it.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.text_name = f"_{name}_text"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> None: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> DateTime | None: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> DateTime | None:
        if obj is None:
            return None  # the dataclass reads this as the field's default
        values = obj.__dict__
        try:
            found: DateTime | None = values[self.name]
        except KeyError:
            found = values[self.name] = parse_datetime(values.get(self.text_name))
        return found

    def __set__(self, obj: object, value: DateTime | None) -> None:
        obj.__dict__[self.name] = value
