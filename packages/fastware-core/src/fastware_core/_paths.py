"""Route patterns: parsing ``/users/{id:int}`` into segments, and the path converters.

Converters take ASCII only: an ``int`` is an optional ``-`` and digits (no ``+``, no ``_``
separators, no spaces, no non-ASCII digits, all of which Python's ``int()`` would accept), a
``float`` the same with a fraction and exponent, a ``uuid`` the 8-4-4-4-12 hex form.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .exceptions import RouteDefinitionError

__all__ = (
    "CONVERTERS",
    "INT_MAX_DIGITS",
    "NO_MATCH",
    "ParsedSegment",
    "convert_str",
    "parse_path",
    "pattern_text",
)

# Route parameters are ASCII: an optional "-", then digits. No "+", no "_" separators, no
# spaces and no non-ASCII digits, all of which Python's int()/float() would accept.
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
INT_MAX_DIGITS = 4300  # int()'s default limit on digits
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

NO_MATCH: Any = object()


def convert_str(segment: str) -> Any:
    return segment if segment else NO_MATCH


def _convert_int(segment: str) -> Any:
    if segment.isdigit() and segment.isascii():  # the commonest case first: no sign
        return int(segment) if len(segment) <= INT_MAX_DIGITS else NO_MATCH
    digits = segment[1:] if segment[:1] == "-" else segment
    if digits.isascii() and digits.isdigit() and len(digits) <= INT_MAX_DIGITS:
        return int(segment)
    return NO_MATCH


def _convert_float(segment: str) -> Any:
    if _FLOAT.fullmatch(segment) is None:
        return NO_MATCH
    value = float(segment)
    return value if value - value == 0 else NO_MATCH  # rejects inf from huge exponents


def _convert_uuid(segment: str) -> Any:
    return uuid.UUID(segment) if _UUID.fullmatch(segment) else NO_MATCH


# name -> (priority among parameters at one position, converter)
CONVERTERS: dict[str, tuple[int, Callable[[str], Any]]] = {
    "int": (0, _convert_int),
    "float": (1, _convert_float),
    "uuid": (2, _convert_uuid),
    "str": (3, convert_str),
}


class ParsedSegment(NamedTuple):
    """One ``/``-separated piece of a route pattern."""

    value: str
    """The literal text, or the parameter name."""
    converter: str | None
    """``None`` for a literal; otherwise ``str``, ``int``, ``float``, ``uuid`` or ``path``."""

    @property
    def is_param(self) -> bool:
        """Whether this segment captures a value."""
        return self.converter is not None


def parse_path(path: str) -> tuple[ParsedSegment, ...]:
    """Split a route pattern into segments, validating parameter names and converters.

    Leading and trailing slashes are not significant (``/users/`` is ``/users``).

    Raises:
        RouteDefinitionError: for an unknown converter, a malformed or repeated parameter.
    """
    stripped = path.strip("/")
    segments: list[ParsedSegment] = []
    names: set[str] = set()
    for raw in stripped.split("/"):
        if raw.startswith("{") and raw.endswith("}"):
            name, _, converter = raw[1:-1].partition(":")
            name, converter = name.strip(), (converter.strip() or "str")
            if not name.isidentifier():
                raise RouteDefinitionError(f"Invalid path parameter name {name!r} in {path!r}")
            if converter != "path" and converter not in CONVERTERS:
                raise RouteDefinitionError(
                    f"Unknown path parameter type: {converter!r} in {path!r} "
                    f"(known: float, int, path, str, uuid)"
                )
            if name in names:
                raise RouteDefinitionError(f"Path parameter {name!r} repeated in {path!r}")
            names.add(name)
            segments.append(ParsedSegment(name, converter))
        elif "{" in raw or "}" in raw:
            raise RouteDefinitionError(
                f"Segment {raw!r} of {path!r} mixes text and a parameter; "
                "a parameter must fill a whole segment, like /files/{name}"
            )
        else:
            segments.append(ParsedSegment(raw, None))
    return tuple(segments)


def pattern_text(segments: Iterable[ParsedSegment]) -> str:
    parts = [s.value if s.converter is None else f"{{{s.value}:{s.converter}}}" for s in segments]
    return "/" + "/".join(parts)
