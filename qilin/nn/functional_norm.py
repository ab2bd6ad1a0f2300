"""Normalisation in nn.functional: batch, layer, group, instance and RMS norm."""

from __future__ import annotations

__all__: list[str] = []
