"""Pooling layers: MaxPool, AvgPool and adaptive pools."""

from __future__ import annotations

__all__: list[str] = []
