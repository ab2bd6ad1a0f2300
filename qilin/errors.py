"""User-facing errors point at the user's own line, not at qilin's internals.

The dispatcher adds the location to every error an op's kernel or meta rule raises. Errors
raised before the dispatcher (argument checks in public functions, dim normalisation, index
parsing) go through `located`, the one helper for that:

    raise located(IndexError(f"index {i} is out of bounds for dimension {d} with size {n}"))

gives "index 5 is out of bounds ... (at train.py:12: y = x[5])". The error is also marked so
that the dispatcher passes it on unchanged when it comes out of a kernel.
"""

from __future__ import annotations

import linecache
import os
import re
import sys

__all__ = ["located", "has_location", "user_location", "user_stacklevel"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__))

# " (at file.py:12: code)" or " (at <unknown>)" closing a message (see user_location).
_LOCATION = re.compile(r" \(at (?:<unknown>|[^\n]*:\d+(?:: [^\n]*)?)\)\Z")


def has_location(message: str) -> bool:
    return _LOCATION.search(message) is not None


def located(error: BaseException) -> BaseException:
    """`error` with " (at file:line: code)" of the user's call appended to its message."""
    if not getattr(error, "_qilin_explained", False):
        message = str(error)
        if not has_location(message):
            error.args = (f"{message} (at {user_location()})",)
        error._qilin_explained = True  # the dispatcher's explain_failure passes it on as is
    return error


def user_stacklevel() -> int:
    """The `stacklevel` that makes `warnings.warn`, called by the caller, name the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def user_location() -> str:
    """'file.py:12: code' for the innermost frame outside qilin — where the user called us."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    location = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{location}: {line}" if line else location
