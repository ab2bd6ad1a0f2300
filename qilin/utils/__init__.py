"""Utilities with the torch.utils surface (data loading)."""

from . import data

__all__ = ["data"]
