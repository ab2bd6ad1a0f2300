"""Transformer encoder/decoder layers and stacks, and Transformer."""

from __future__ import annotations

__all__: list[str] = []
