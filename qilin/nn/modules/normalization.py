"""LayerNorm, GroupNorm, RMSNorm and InstanceNorm."""

from __future__ import annotations

__all__: list[str] = []
