"""Whether operations record the autograd graph: no_grad, enable_grad, set_grad_enabled,
inference_mode. Each works as a context manager and as a decorator (no_grad, enable_grad and
inference_mode also without parentheses); the flags are per thread, as in torch."""

from __future__ import annotations

import functools
import inspect
import threading

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
]


class _State(threading.local):
    enabled = True
    inference = False


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _GradModeContext:
    """Base of the grad-mode switches: set on enter, restore on exit, usable as a decorator.

    Subclasses say what to switch to in `_target()` (grad mode) and `inference` (None leaves
    inference mode alone). A decorated function enters a fresh copy on every call, so one
    decorator is safe across threads and recursion.
    """

    inference = None

    def _target(self) -> bool:
        raise NotImplementedError

    def clone(self):
        copy = object.__new__(type(self))
        copy.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_saved"})
        return copy

    def __enter__(self):
        saved = self.__dict__.setdefault("_saved", [])
        saved.append((state.enabled, state.inference))
        state.enabled = self._target()
        if self.inference is not None:
            state.inference = self.inference
        return self

    def __exit__(self, *exc_info):
        state.enabled, state.inference = self._saved.pop()
        return False

    def __call__(self, function):
        if inspect.isclass(function):
            raise RuntimeError(
                f"{type(self).__name__} cannot decorate a class; decorate its methods instead"
            )
        template = self.clone()
        if inspect.isgeneratorfunction(function):
            return _wrap_generator(template, function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with template.clone():
                return function(*args, **kwargs)

        return wrapper


def _wrap_generator(template: _GradModeContext, function):
    """The mode holds while the generator runs, not while its caller runs between yields."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        generator = function(*args, **kwargs)
        try:
            with template.clone():
                response = generator.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with template.clone():
                        generator.close()
                    raise
                except BaseException as error:  # noqa: BLE001 (passed into the generator)
                    with template.clone():
                        response = generator.throw(error)
                else:
                    with template.clone():
                        response = generator.send(request)
        except StopIteration as stop:
            return stop.value

    return wrapper


class _NoArgumentSwitch(_GradModeContext):
    """A switch that takes no argument, so `@no_grad` works as well as `@no_grad()`."""

    def __new__(cls, function=None):
        instance = super().__new__(cls)
        if function is None:
            return instance
        return instance(function)

    def __init__(self, function=None):
        pass


class no_grad(_NoArgumentSwitch):  # noqa: N801 (torch's name)
    """Disable gradient recording inside the block."""

    def _target(self) -> bool:
        return False


class enable_grad(_NoArgumentSwitch):  # noqa: N801
    """Enable gradient recording inside the block (e.g. within no_grad)."""

    def _target(self) -> bool:
        return True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Set gradient recording to `mode`; as a plain call it takes effect at once, like torch's."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._saved = [(state.enabled, state.inference)]
        self._applied = True  # the constructor already switched; the first enter must not
        state.enabled = self.mode

    def _target(self) -> bool:
        return self.mode

    def clone(self):
        copy = super().clone()
        copy._applied = False
        return copy

    def __enter__(self):
        if self.__dict__.get("_applied"):
            self._applied = False
            return self
        return super().__enter__()

    def __call__(self, function):
        if self._applied:  # decorating must not leave the mode switched
            self._applied = False
            state.enabled, state.inference = self._saved.pop()
        return super().__call__(function)


class inference_mode(_GradModeContext):  # noqa: N801
    """No gradient recording inside the block (inference_mode(False) turns recording back on,
    as in torch). Also usable bare, as `@inference_mode`."""

    def __new__(cls, mode=True):
        instance = super().__new__(cls)
        if isinstance(mode, bool):
            return instance
        instance.inference = True
        return instance(mode)  # bare decorator: `mode` is the function

    def __init__(self, mode=True):
        if isinstance(mode, bool):
            self.inference = mode

    def _target(self) -> bool:
        return not self.inference
