"""Saving and loading without pickle: `save`, `load` and safetensors interop."""

from .checkpoint import CheckpointManager
from .serialization import CheckpointError, load, load_safetensors, save, save_safetensors

__all__ = [
    "save",
    "load",
    "save_safetensors",
    "load_safetensors",
    "CheckpointError",
    "CheckpointManager",
]
