"""Devices: where a tensor's memory lives. ``Device("cpu")`` and ``Device("cuda:0")``."""

from __future__ import annotations

__all__ = ["Device", "device"]


class Device:
    """A device type and index, as torch.device. Instances are interned: compare with `is`."""

    __slots__ = ("type", "index", "_backend")
    _interned: dict = {}

    def __new__(cls, spec="cpu", index: int | None = None):
        if isinstance(spec, Device):
            return spec
        key = (spec, index)
        found = cls._interned.get(key)
        if found is not None:
            return found
        if not isinstance(spec, str):
            raise TypeError(f"expected a device such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, number = spec.partition(":")
        if number:
            if index is not None:
                raise ValueError(f"device {spec!r} already names an index; got index={index} too")
            if not number.isdigit():
                raise ValueError(f"invalid device string {spec!r}: expected 'cpu' or 'cuda:N'")
            index = int(number)
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device type {kind!r} in {spec!r}: expected 'cpu' or 'cuda'")
        if kind == "cuda" and index is None:
            index = 0
        self = super().__new__(cls)
        self.type, self.index, self._backend = kind, index, None
        canonical = cls._interned.setdefault((str(self), None), self)
        cls._interned[key] = canonical
        return canonical

    @property
    def backend(self):
        """The array library behind this device; raises a clear error if it is not available."""
        if self._backend is None:
            from .backends import backend_for

            self._backend = backend_for(self)
        return self._backend

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else (
            f"device(type='{self.type}', index={self.index})")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return self is other

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (Device, (str(self),))


device = Device
CPU = Device("cpu")
