"""Failures inside compiled checks, and how their messages read.

Contract. A compiled node raises :class:`Invalid` (kind, expected description, the
offending value). Containers append their field name or array index to ``parts``
while it unwinds, so the happy path never builds a path string; the top-level
``Validator.compile()`` wrapper turns it into a ``ValidationFailure`` with one of
three messages:

* ``<path>: expected <description>, got <short value>`` (``args.channelId: expected
  Id("channels"), got 42``; descriptions are TS-ish: ``string``, ``number``,
  ``float64``, ``int64``, ``boolean``, ``null``, ``bytes``, ``Id("t")``, a literal's
  JSON, ``array<string>``, ``object``, ``record``, ``string | null`` for unions);
* ``<path>: missing required field``;
* ``<path>: unexpected field``.

Paths are dotted, with ``[i]`` for array indexes (``metadata.tags[2]``); an empty
path reads ``value``. Values are shown short: strings quoted and cut at 40
characters, ``bytes(3)``, ``array(2)``, ``object``, or the Python type name. An integral
float given for an int64 argument adds how to send an int64 from JavaScript (``3n``) or
to declare the argument ``float``.
"""

from __future__ import annotations

import json
from typing import Any, Final

EXPECTED: Final = 0
MISSING_FIELD: Final = 1
UNEXPECTED_FIELD: Final = 2


class Invalid(Exception):
    """A value that does not match; internal to the checks, never leaves ``compile()``.

    ``parts`` holds the path from the failing value up to the checked root, innermost
    first (str = field name, int = array index); containers append while it unwinds.
    """

    def __init__(self, kind: int, desc: str = "", value: Any = None) -> None:
        self.kind = kind
        self.desc = desc
        self.value = value
        self.parts: list[str | int] = []

    def full_path(self, prefix: str) -> str:
        path = prefix
        for part in reversed(self.parts):
            if isinstance(part, int):
                path = f"{path}[{part}]"
            elif path:
                path = f"{path}.{part}"
            else:
                path = part
        return path

    def message(self, path: str) -> str:
        where = path or "value"
        if self.kind == MISSING_FIELD:
            return f"{where}: missing required field"
        if self.kind == UNEXPECTED_FIELD:
            return f"{where}: unexpected field"
        return f"{where}: expected {self.desc}, got {short_repr(self.value)}{self._hint(path)}"

    def _hint(self, path: str) -> str:
        """An integral float for an int64 argument: a client that only has float64 (a
        JavaScript number) sent it. The wire stays strict, as Convex's; the message names
        the fix on either side."""
        value = self.value
        if (self.desc != "int64" or type(value) is not float or not value.is_integer()
                or not path.startswith("args")):
            return ""
        n = int(value)
        return (f" (a float64, as JavaScript numbers are: pass {n}n (BigInt) from JavaScript, "
                "or declare the argument float / v.float64())")


def short_repr(value: Any) -> str:
    """A short, JSON-ish rendering of a value for error messages."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 256:
            return f"an integer of {value.bit_length()} bits"
        return str(int(value))
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(float(value))
    if isinstance(value, str):
        return quote(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, bytes):
        return f"bytes({len(value)})"
    if isinstance(value, list):
        return f"array({len(value)})"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def quote(text: str) -> str:
    """``text`` in double quotes, escaped as in JSON (also a valid Python literal)."""
    return json.dumps(text, ensure_ascii=False)
