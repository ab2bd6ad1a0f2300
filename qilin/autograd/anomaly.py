"""Anomaly detection: name the forward op whose backward produced NaN.

With `detect_anomaly()` on, every recorded node keeps the stack of the user code that created
it, and the engine checks each computed gradient for NaN.
"""

from __future__ import annotations

import os
import threading
import traceback

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _State(threading.local):
    enabled = False
    check_nan = True


state = _State()


def is_anomaly_enabled() -> bool:
    return state.enabled


def current_trace() -> list:
    """The stack of the code that is recording a node, without qilin's own frames."""
    frames = traceback.extract_stack()[:-1]
    return [frame for frame in frames if not frame.filename.startswith(_PACKAGE)]


def check_grads(node, grads) -> None:
    if not state.check_nan:
        return
    for index, grad in enumerate(grads):
        if grad is None:
            continue
        data = grad._data
        if data.dtype.kind == "f" and bool(np.isnan(data).any()):
            where = ""
            if getattr(node, "trace", None):
                where = "\nThe forward call that created it:\n" + "".join(
                    traceback.format_list(node.trace))
            raise RuntimeError(
                f"Function '{node.name()}' returned nan values in its {index}th output.{where}")


class detect_anomaly:
    """Context manager / decorator: record forward traces and fail on NaN gradients."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._previous = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc_info):
        state.enabled, state.check_nan = self._previous
        return False

    def __call__(self, function):
        import functools

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return function(*args, **kwargs)

        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off; effective at once, or for a `with` block."""

    def __init__(self, mode: bool, check_nan: bool = True):
        super().__init__(check_nan)
        self._previous = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = bool(mode), check_nan

    def __enter__(self):
        return self
