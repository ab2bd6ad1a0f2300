"""Pooling and resampling in nn.functional: max/avg/adaptive pools, interpolate, pixel shuffle."""

from __future__ import annotations

__all__: list[str] = []
