"""Anomaly detection: name the forward op whose backward produced NaN.

With `detect_anomaly()` on, every recorded node keeps the stack of the user code that created
it, and the engine checks each computed gradient for NaN.
"""

from __future__ import annotations

import os
import threading
import traceback

import numpy as np

__all__ = [
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _State(threading.local):
    enabled = False
    check_nan = True


state = _State()


def is_anomaly_enabled() -> bool:
    return state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return state.check_nan


def current_trace() -> list:
    """The stack of the code that is recording a node, without qilin's own frames."""
    frames = traceback.extract_stack()[:-1]
    return [frame for frame in frames if not frame.filename.startswith(_PACKAGE)]


def forward_trace(node) -> str:
    """The user's stack when `node` was recorded (empty if anomaly mode was off then)."""
    trace = getattr(node, "trace", None)
    if not trace:
        return ""
    return (
        f"Error detected in {node.name()}. Traceback of forward call that caused the "
        "error:\n" + "".join(traceback.format_list(trace)).rstrip()
    )


def check_grads(node, grads) -> None:
    if not state.check_nan:
        return
    for index, grad in enumerate(grads):
        if grad is None:
            continue
        data = grad._data
        if data.dtype.kind == "f" and bool(np.isnan(data).any()):
            trace = forward_trace(node)
            raise RuntimeError(
                f"Function '{node.name()}' returned nan values in its {index}th output."
                + (f"\n{trace}" if trace else "")
            )


def annotate(error: BaseException, node) -> None:
    """Add the forward trace of the node whose backward failed to the error (once)."""
    trace = forward_trace(node)
    if trace and not getattr(error, "_qilin_anomaly_noted", False) and trace not in str(error):
        error.add_note(trace)
        error._qilin_anomaly_noted = True


class detect_anomaly:
    """Context manager / decorator: record forward traces and fail on NaN gradients."""

    def __init__(self, check_nan: bool = True):
        import warnings

        self.check_nan = check_nan
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime "
            "and should only be enabled for debugging.",
            UserWarning,
            stacklevel=2,
        )

    def __enter__(self):
        self._previous = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc_info):
        state.enabled, state.check_nan = self._previous
        return False

    def __call__(self, function):
        import functools

        check_nan = self.check_nan

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            previous = (state.enabled, state.check_nan)
            state.enabled, state.check_nan = True, check_nan
            try:
                return function(*args, **kwargs)
            finally:
                state.enabled, state.check_nan = previous

        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off; effective at once, or for a `with` block."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.check_nan = check_nan
        self._previous = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = bool(mode), check_nan

    def __enter__(self):
        return self
