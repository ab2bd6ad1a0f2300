"""Whether operations record the autograd graph: no_grad, enable_grad, set_grad_enabled,
inference_mode. Each works as a context manager and as a decorator; the flag is per thread."""

from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _State(threading.local):
    enabled = True
    inference = False


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _GradModeContext:
    """Base of the grad-mode switches: set on enter, restore on exit, usable as a decorator."""

    inference = None  # inference_mode sets True/False; the others leave the flag alone

    def _target(self) -> bool:
        raise NotImplementedError

    def __enter__(self):
        self._saved = getattr(self, "_saved", [])
        self._saved.append((state.enabled, state.inference))
        state.enabled = self._target()
        if self.inference is not None:
            state.inference = self.inference
        return self

    def __exit__(self, *exc_info):
        state.enabled, state.inference = self._saved.pop()
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self:
                return function(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Disable gradient recording inside the block."""

    def _target(self) -> bool:
        return False


class enable_grad(_GradModeContext):
    """Enable gradient recording inside the block (e.g. within no_grad)."""

    def _target(self) -> bool:
        return True


class set_grad_enabled(_GradModeContext):
    """Set gradient recording to `mode`; as a plain call it takes effect at once, like torch's."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._saved = [(state.enabled, state.inference)]
        self._applied = True  # the constructor already switched; the first enter must not
        state.enabled = self.mode

    def _target(self) -> bool:
        return self.mode

    def __enter__(self):
        if self._applied:
            self._applied = False
            return self
        return super().__enter__()

    def __call__(self, function):
        if self._applied:  # decorating must not leave the mode switched
            self._applied = False
            state.enabled, state.inference = self._saved.pop()
        return super().__call__(function)


class inference_mode(_GradModeContext):
    """Like no_grad, for inference: nothing inside records gradients."""

    def __init__(self, mode: bool = True):
        self.inference = bool(mode)

    def _target(self) -> bool:
        return state.enabled and not self.inference
