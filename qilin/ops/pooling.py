"""Pooling primitives: max and average pooling (N-d), adaptive pooling, and their vjps."""

from __future__ import annotations

__all__: list[str] = []
