"""Convolution primitives (N-d, stride, padding, dilation, groups, transposed) and im2col."""

from __future__ import annotations

__all__: list[str] = []
