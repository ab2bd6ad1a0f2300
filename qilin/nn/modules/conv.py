"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d."""

from __future__ import annotations

__all__: list[str] = []
