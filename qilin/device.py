"""Devices: where a tensor's memory lives. ``Device("cpu")`` and ``Device("cuda:0")``.

As in torch, ``Device("cuda")`` names "the current CUDA device" and has ``index=None``; a tensor
always lives on a concrete device (``cuda:0``), which `resolve` picks. Devices are interned, so
the dispatcher compares them with ``is``.
"""

from __future__ import annotations

__all__ = ["Device", "device", "resolve", "CPU"]

_TYPES = ("cpu", "cuda")


def _bad_string(spec: str) -> RuntimeError:
    return RuntimeError(
        f"Invalid device string: {spec!r}; expected 'cpu', 'cuda' or 'cuda:N' with N a "
        "non-negative integer"
    )


def _parse(spec, index):
    """(type, index) from the forms torch accepts: 'cuda:1', ('cuda', 1), 1, Device."""
    if isinstance(spec, bool) or not isinstance(spec, (str, int)):
        raise TypeError(
            f"device(): expected a device string such as 'cpu' or 'cuda:0', a "
            f"device index or a Device, got {type(spec).__name__} {spec!r}"
        )
    if isinstance(spec, int):  # torch.device(1) means the accelerator with that index
        spec, index = "cuda", _check_index(spec, index)
        return spec, index
    kind, colon, number = spec.partition(":")
    if kind not in _TYPES:
        if colon and not kind or kind.strip() != kind:
            raise _bad_string(spec)
        raise RuntimeError(
            f"Expected one of {', '.join(_TYPES)} device type at start of device string: {spec}"
        )
    if colon:
        # Digits only, no sign, no leading zero (torch rejects 'cuda:01' and 'cuda:-1').
        if not number.isdigit() or not number.isascii() or (number != "0" and number[0] == "0"):
            raise _bad_string(spec)
        if index is not None:
            raise RuntimeError(
                f"type (string) must not include an index because index was "
                f"passed explicitly: {spec}"
            )
        index = int(number)
    return kind, None if index is None else _check_index(index, None)


def _check_index(index, other):
    if other is not None:
        raise TypeError(
            f"device(): an integer device already names the index; got index={other} as well"
        )
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"device(): index must be an int, got {type(index).__name__}")
    if index < 0:
        raise RuntimeError(f"Device index must not be negative, got {index}")
    return index


class Device:
    """A device type and optional index, as torch.device. ``Device('cuda', 1)``."""

    __slots__ = ("type", "index", "_backend")
    _interned: dict = {}

    def __new__(cls, type="cpu", index: int | None = None):  # noqa: A002  (torch's keyword)
        if isinstance(type, Device):
            if index is not None:
                raise TypeError(f"device(): got a Device {type} and index={index}")
            return type
        key = (type, index)
        try:
            found = cls._interned.get(key)
        except TypeError:  # unhashable spec: let _parse say what was wrong
            found = None
        if found is not None:
            return found
        kind, index = _parse(type, index)
        canonical_key = (kind, index)
        self = cls._interned.get(canonical_key)
        if self is None:
            self = super().__new__(cls)
            self.type, self.index, self._backend = kind, index, None
            cls._interned[canonical_key] = self
        cls._interned[key] = self
        return self

    @property
    def backend(self):
        """The array library behind this device; raises a clear error if it is not available."""
        if self._backend is None:
            from .backends import backend_for

            self._backend = backend_for(self)
        return self._backend

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except (RuntimeError, TypeError):
                return False
        return self is other

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (Device, (self.type, self.index))


device = Device
CPU = Device("cpu")


def resolve(spec) -> Device:
    """The concrete device a new tensor lives on: CPU for any cpu device, cuda:N for cuda.

    `None` means the CPU. ``Device('cuda')`` becomes the current CUDA device (``cuda:0``); the
    backend is looked up here, so asking for CUDA without CuPy or a GPU fails at this point with
    a message that says what is missing.
    """
    if spec is None or spec is CPU:
        return CPU
    found = Device(spec)
    if found.type == "cpu":
        return CPU
    if found.index is None:
        found = Device("cuda", 0)
    found.backend  # noqa: B018  (raises the clear "CUDA requested, but ..." error early)
    return found
