"""The CPU backend: NumPy arrays."""

from __future__ import annotations

import numpy as np


class NumpyBackend:
    name = "numpy"
    xp = np

    def from_host(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_host(self, array) -> np.ndarray:
        return array

    def is_array(self, value) -> bool:
        return isinstance(value, np.ndarray)
